import VigieCore

/// The web page: rendered on the server (the listing works without
/// JavaScript), with a stylesheet and a script embedded in the binary and
/// served from `/?asset=drop.css` and `/?asset=drop.js`; no third-party
/// CDN. Every file name goes through `HTML.escape` or into a URL
/// through `DropPath.percentEncode`.
enum DropPage {
  static func render(path: DropPath, entries: [DropEntry]?) -> String {
    let title = HTML.escape(path.isRoot ? "/" : path.description + "/")
    var rows = ""
    if !path.isRoot {
      rows += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n"
    }
    for entry in entries ?? [] {
      let href = DropPath.percentEncode(entry.name) + (entry.isDirectory ? "/" : "")
      let label = HTML.escape(entry.name) + (entry.isDirectory ? "/" : "")
      let size = entry.isDirectory ? "" : formatSize(entry.size)
      rows +=
        "<tr><td><a href=\"\(href)\">\(label)</a></td><td class=\"size\">\(size)</td><td><time>\(HTTPDate.format(entry.modified))</time></td></tr>\n"
    }
    return """
      <!doctype html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>vigie drop \(title)</title>
      <link rel="stylesheet" href="/?asset=drop.css">
      </head>
      <body>
      <header><h1>\(title)</h1></header>
      <main>
      <form id="upload" method="post" enctype="multipart/form-data">
      <div id="dropzone">Drop files or folders here, or
      <label>pick files <input type="file" name="file" id="files" multiple></label>
      <label>pick a folder <input type="file" name="folder" id="folder" webkitdirectory multiple></label>
      <noscript><button type="submit">Upload</button></noscript>
      </div>
      <ul id="progress"></ul>
      </form>
      \(entries == nil ? "<p id=\"dropbox\">This is a drop box: files can be left here, not seen.</p>" : "")
      <table id="listing">
      <thead><tr><th>Name</th><th>Size</th><th>Modified</th></tr></thead>
      <tbody>
      \(rows)</tbody>
      </table>
      </main>
      <script src="/?asset=drop.js"></script>
      </body>
      </html>

      """
  }

  static func formatSize(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
  }

  static let css = """
    body { font-family: system-ui, sans-serif; margin: 0; padding: 0 1rem 2rem; max-width: 60rem; margin: auto; }
    h1 { font-size: 1.2rem; word-break: break-all; }
    #dropzone { border: 2px dashed #888; border-radius: 8px; padding: 1.5rem; text-align: center; }
    #dropzone.over { background: #eef; border-color: #44f; }
    #dropzone label { display: inline-block; margin: .3rem; padding: .4rem .8rem; background: #ddd; border-radius: 4px; cursor: pointer; }
    #dropzone input[type=file] { display: none; }
    #progress { list-style: none; padding: 0; }
    #progress li { margin: .3rem 0; font-size: .9rem; word-break: break-all; }
    #progress progress { width: 100%; }
    #progress .failed { color: #b00; }
    table { width: 100%; border-collapse: collapse; margin-top: 1rem; }
    th, td { text-align: left; padding: .3rem; border-bottom: 1px solid #ddd; word-break: break-all; }
    td.size { white-space: nowrap; text-align: right; }
    @media (max-width: 40rem) { th:nth-child(3), td:nth-child(3) { display: none; } }
    """

  /// Uploads each file with its own `PUT` (progress per file, speed and ETA),
  /// keeping folder structure from drag and drop or the folder picker.
  static let javascript = """
    'use strict';
    (function () {
      const zone = document.getElementById('dropzone');
      const list = document.getElementById('progress');
      const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
      function encodePath(rel) { return rel.split('/').filter(s => s.length).map(encodeURIComponent).join('/'); }
      function human(n) { const u = ['B','KiB','MiB','GiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + ' ' + u[i]; }
      let queue = Promise.resolve();
      function upload(file, rel) {
        const li = document.createElement('li');
        const label = document.createElement('span');
        const bar = document.createElement('progress');
        bar.max = file.size || 1; bar.value = 0;
        label.textContent = rel + ' (' + human(file.size) + ')';
        li.appendChild(label); li.appendChild(document.createElement('br')); li.appendChild(bar);
        list.appendChild(li);
        queue = queue.then(() => new Promise(resolve => {
          const xhr = new XMLHttpRequest();
          const started = Date.now();
          xhr.open('PUT', base + encodePath(rel));
          xhr.setRequestHeader('X-Vigie-Upload', '1');
          xhr.upload.onprogress = e => {
            bar.value = e.loaded;
            const secs = (Date.now() - started) / 1000;
            const speed = secs > 0 ? e.loaded / secs : 0;
            const eta = speed > 0 ? Math.round((e.total - e.loaded) / speed) : 0;
            label.textContent = rel + ' ' + human(e.loaded) + ' / ' + human(e.total) + ' at ' + human(speed) + '/s, ' + eta + ' s left';
          };
          xhr.onload = () => {
            if (xhr.status === 201) {
              const r = JSON.parse(xhr.responseText);
              bar.value = bar.max;
              label.textContent = r.path + ' (' + human(r.size) + ') sha256 ' + r.sha256;
              li.className = 'done';
            } else {
              li.className = 'failed';
              label.textContent = rel + ': ' + xhr.status + ' ' + xhr.responseText;
            }
            resolve();
          };
          xhr.onerror = () => { li.className = 'failed'; label.textContent = rel + ': network error'; resolve(); };
          xhr.send(file);
        }));
        return queue;
      }
      function walk(entry, prefix) {
        if (entry.isFile) {
          entry.file(f => upload(f, prefix + f.name));
        } else if (entry.isDirectory) {
          const reader = entry.createReader();
          const read = () => reader.readEntries(entries => {
            if (!entries.length) return;
            entries.forEach(e => walk(e, prefix + entry.name + '/'));
            read();
          });
          read();
        }
      }
      function done() { queue.then(() => setTimeout(() => location.reload(), 300)); }
      zone.addEventListener('dragover', e => { e.preventDefault(); zone.classList.add('over'); });
      zone.addEventListener('dragleave', () => zone.classList.remove('over'));
      zone.addEventListener('drop', e => {
        e.preventDefault(); zone.classList.remove('over');
        const items = e.dataTransfer.items;
        if (items && items.length && items[0].webkitGetAsEntry) {
          for (const item of items) { const entry = item.webkitGetAsEntry(); if (entry) walk(entry, ''); }
        } else {
          for (const f of e.dataTransfer.files) upload(f, f.name);
        }
        setTimeout(done, 500);
      });
      for (const id of ['files', 'folder']) {
        document.getElementById(id).addEventListener('change', e => {
          for (const f of e.target.files) upload(f, f.webkitRelativePath || f.name);
          e.target.value = '';
          done();
        });
      }
    })();
    """
}
