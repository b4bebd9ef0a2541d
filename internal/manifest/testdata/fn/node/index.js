exports.handler = async () => "hi"
