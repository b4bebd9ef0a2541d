// require('strata'): Strata's bindings (strata_lib.js), found through
// NODE_PATH. Requiring it turns on tracking each call's invocation.
'use strict';
const lib = require('./strata_lib.js');
lib._invocation.enable();
module.exports = lib;
