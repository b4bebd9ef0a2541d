// Live logs: follow the log page's stream (server-sent events) and append
// each line to the table while "follow" is ticked.
(function () {
  var table = document.getElementById("logs");
  if (!table || !window.EventSource) return;
  var follow = document.getElementById("follow");
  var es = new EventSource(table.dataset.stream);
  function cell(tr, text) { var td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
  es.onmessage = function (ev) {
    if (follow && !follow.checked) return;
    var l = JSON.parse(ev.data);
    var tr = document.createElement("tr");
    tr.className = l.level + " live";
    cell(tr, l.time);
    cell(tr, l.function + "@" + l.version);
    cell(tr, l.level);
    cell(tr, l.line).className = "line";
    var t = cell(tr, "");
    if (l.trace_id) {
      var a = document.createElement("a");
      a.href = "traces/" + l.trace_id;
      a.textContent = l.trace_id.slice(0, 8);
      t.appendChild(a);
    }
    table.appendChild(tr);
    window.scrollTo(0, document.body.scrollHeight);
  };
})();
