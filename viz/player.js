/* Descent Lab frame player for animated plotly figures (classic script; defines window.DescentLabPlayer).
 *
 * Why: on every frame, Plotly.animate re-runs supplyDefaults and calc over every trace and every slider step
 * of the figure, so a frame costs 60-90 ms in headless chromium however few points move. The figures here
 * animate only markers and plain polylines, so this player applies a frame directly:
 *  - a "markers" scatter trace (x, y, hover customdata/text): it sets the transform of each marker's SVG path;
 *  - a "lines" scatter trace (x, y; e.g. the networks page's decision boundary) that plotly draws point for
 *    point (linear shape, line.simplify false, no fill): it writes each piece's SVG path as plotly's scatter
 *    plot does ('M' + pixel points joined by 'L', one path per run of valid points), adding or removing paths
 *    when the number of pieces changes;
 *  - a trace whose update holds the values it already has (the networks page's "no boundary" note on most
 *    frames): nothing to do.
 * It writes the same values into gd.calcdata (hover, and any later redraw from calcdata: zoom, resize),
 * gd._fullData / gd.data (a later recalc), the slider (through plotly's own command observer, which moves the
 * grip and the "step" label) and gd._fullLayout._currentFrame. It does not update the traces' autorange
 * extremes, so figures give the axes of animated traces fixed ranges. It uses plotly.js internals (gd.calcdata,
 * _fullData, the slider's _commandObserver; checked against plotly.js 4.2 as bundled by Streamlit 1.67 and
 * plotly.py 7.1), and the browser tests compare its drawing with Plotly.animate's. Any frame it cannot apply
 * exactly (another attribute or trace type, a point count that differs from the markers drawn, a point plotly
 * would clip, a line shape or simplification it does not reproduce) goes through Plotly.animate instead.
 *
 * The figure opts in with updatemenu buttons named "player:first|back|play|pause|forward|last" and
 * execute=false: plotly then only emits plotly_buttonclicked, and the player acts. Slider steps with
 * execute=false are drawn by the player too (plotly moves the grip and emits plotly_sliderchange). The keys
 * <-/-> step one frame while the pointer is over the figure (or after a click on it).
 *
 * Events (all on the graph div): plotly's own 'plotly_animatingframe' for a frame the player applies itself
 * (Plotly.animate emits it for the others), gd.emit('descentlab_frame', {index, name, fast}) through plotly's emitter,
 * and a DOM CustomEvent 'descentlab:frame' with the same detail, once per frame shown.
 */
(function () {
  'use strict';
  if (window.DescentLabPlayer) { return; }

  var DTYPES = { f4: Float32Array, f8: Float64Array, i1: Int8Array, i2: Int16Array, i4: Int32Array,
                 u1: Uint8Array, u2: Uint16Array, u4: Uint32Array };
  var FAST_KEYS = { x: 1, y: 1, customdata: 1, text: 1, type: 1 };  // type: plotly.py's go.Frame writes it

  function decode(v) {
    // plotly's typed-array spec {dtype, bdata, shape} -> typed array (or array of rows for 2-D); else as is.
    if (!v || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v) || v.bdata === undefined) {
      return v;
    }
    var bin = atob(v.bdata), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var arr = new (DTYPES[v.dtype] || Float64Array)(bytes.buffer);
    if (!v.shape) { return arr; }
    var dims = String(v.shape).split(',').map(function (s) { return parseInt(s, 10); });
    if (dims.length !== 2) { return arr; }
    var rows = [];
    for (var r = 0; r < dims[0]; r++) { rows.push(Array.prototype.slice.call(arr, r * dims[1], (r + 1) * dims[1])); }
    return rows;
  }

  function axisOf(gd, id) { return gd._fullLayout[id.charAt(0) + 'axis' + id.slice(1)]; }

  function editable(el) {
    if (!el || !el.closest) { return false; }
    return !!el.closest('input, textarea, select, [contenteditable="true"], [role="slider"], [role="textbox"]');
  }

  function isPlayerFigure(gd) {
    var menus = gd && gd.layout && gd.layout.updatemenus;
    return !!(menus && menus.some(function (m) {
      return (m.buttons || []).some(function (b) { return b.name === 'player:play'; });
    }));
  }

  function Player() {
    this.gd = null;
    this.rawFrames = null;   // gd._transitionData._frames the cache was built from
    this.frames = null;      // [{name, traces, data: [{x, y, customdata}], fast}]
    this.byName = null;      // frame name -> index into frames
    this.groups = {};        // trace index -> {g, points}
    this.playing = false;
    this.raf = 0;
    this.frameMs = 40;
    this.pointerInside = false;
    this.armed = false;      // the last click was on the figure
    this.shown = 0;          // frames shown since the page loaded (fast + slow)
    this.fastShown = 0;
    this._onKey = this.onKey.bind(this);
    this._onPointer = this.onPointer.bind(this);
    this._installed = false;
  }

  Player.prototype.install = function () {
    if (this._installed) { return; }
    this._installed = true;
    var self = this;
    this._poll = window.setInterval(function () { self.find(); self.listenAll(); }, 400);  // bind as soon as drawn
    document.addEventListener('keydown', this._onKey);
    document.addEventListener('pointerdown', this._onPointer, true);
    document.addEventListener('pointermove', this._onPointer, true);
  };

  Player.prototype.uninstall = function () {
    this.pause();
    this._installed = false;
    window.clearInterval(this._poll);
    document.removeEventListener('keydown', this._onKey);
    document.removeEventListener('pointerdown', this._onPointer, true);
    document.removeEventListener('pointermove', this._onPointer, true);
  };

  Player.prototype.find = function () {
    var gd0 = this.gd;
    if (gd0 && gd0.isConnected && gd0._fullLayout && isPlayerFigure(gd0)) {
      if (gd0._ev !== this.boundEv) { this.listen(); }  // Plotly.purge drops listeners; a replot adds new ones
      return gd0;
    }
    var all = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < all.length; i++) {
      if (all[i]._fullLayout && isPlayerFigure(all[i])) { this.bind(all[i]); return all[i]; }
    }
    return null;
  };

  Player.prototype.bind = function (gd) {
    if (this.gd === gd) { return; }
    this.pause();
    this.gd = gd;
    this.rawFrames = null;
    this.listen();
  };

  // A page may hold several player figures (the surfaces page's X-ray beside its main figure). Each gets the
  // listeners once (per plotly emitter: a purge and replot make a new one), and the figure whose button or
  // slider was used becomes the one the player drives.
  Player.prototype.listen = function (target) {
    var self = this, gd = target || this.gd;
    if (gd === this.gd) { this.boundEv = gd._ev; }
    if (!gd.on || (gd._ev && gd._descentlabEv === gd._ev)) { return; }
    gd._descentlabEv = gd._ev;
    gd.on('plotly_buttonclicked', function (ev) {
      var name = ev && ev.button && ev.button.name;
      if (!name || name.indexOf('player:') !== 0) { return; }
      self.bind(gd);
      self.command(name.slice(7), ev.button);
    });
    gd.on('plotly_sliderstart', function () { if (self.gd === gd) { self.pause(); } });
    // A drag or click on the slider (steps with execute=false): plotly moved the grip, the player draws.
    gd.on('plotly_sliderchange', function (ev) {
      if (!ev || !ev.interaction || !ev.step || ev.step.execute !== false) { return; }
      self.bind(gd);
      self.pause();
      self.show(ev.slider.active || 0);
    });
  };

  Player.prototype.listenAll = function () {
    var all = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < all.length; i++) {
      if (all[i]._fullLayout && isPlayerFigure(all[i])) { this.listen(all[i]); }
    }
  };

  Player.prototype.slider = function () {
    var s = this.gd && this.gd._fullLayout.sliders;
    return s && s.length ? s[0] : null;
  };

  // Rebuild the decoded frame cache when plotly holds a different frame list (a new figure).
  Player.prototype.prepare = function () {
    var gd = this.find();
    if (!gd || !gd._transitionData || !gd._transitionData._frames || !gd.calcdata) { return false; }
    var raw = gd._transitionData._frames;
    if (raw === this.rawFrames && this.frames && this.frames.length === raw.length) { return true; }
    this.rawFrames = raw;
    this.groups = {};
    this.frames = raw.map(function (f) {
      var data = (f.data || []).map(function (d) {
        var out = {}, fast = true;
        for (var k in d) {
          if (!Object.prototype.hasOwnProperty.call(d, k)) { continue; }
          if (!FAST_KEYS[k]) { fast = false; }
          out[k] = decode(d[k]);
        }
        out._fast = fast && out.x !== undefined && out.y !== undefined;
        return out;
      });
      return { name: String(f.name), traces: f.traces || data.map(function (_, i) { return i; }), data: data };
    });
    this.byName = {};
    for (var i = 0; i < this.frames.length; i++) { this.byName[this.frames[i].name] = i; }
    var btn = this.button('play');
    var dur = btn && btn.args && btn.args[1] && btn.args[1].frame && btn.args[1].frame.duration;
    if (dur > 0) { this.frameMs = dur; }
    // A 3-D figure asks for redraw in its Play button: plotly does not replot 3-D traces without it.
    this.redraw = !!(btn && btn.args && btn.args[1] && btn.args[1].frame && btn.args[1].frame.redraw);
    return true;
  };

  Player.prototype.button = function (what) {
    var menus = (this.gd && this.gd.layout.updatemenus) || [];
    for (var m = 0; m < menus.length; m++) {
      var b = (menus[m].buttons || []).find(function (b) { return b.name === 'player:' + what; });
      if (b) { return b; }
    }
    return null;
  };

  // Slider steps are the player's positions; each names its frame in args[0][0].
  Player.prototype.stepNames = function () {
    var sl = this.slider();
    if (!sl) { return this.frames.map(function (f) { return f.name; }); }
    return sl.steps.map(function (s) { return String(s.args && s.args[0] && s.args[0][0]); });
  };

  Player.prototype.current = function () {
    var sl = this.slider();
    return sl ? (sl.active || 0) : (this._index || 0);
  };

  Player.prototype.count = function () { return this.stepNames().length; };

  Player.prototype.group = function (ti) {
    var hit = this.groups[ti];
    if (hit && hit.g.isConnected && hit.cd === this.gd.calcdata[ti]
        && (!hit.points.length || hit.points[0].isConnected)) { return hit; }
    var gs = this.gd.querySelectorAll('.scatterlayer g.trace');
    for (var i = 0; i < gs.length; i++) {
      var cd = gs[i].__data__;
      if (cd && cd[0] && cd[0].trace && cd[0].trace.index === ti) {
        hit = { g: gs[i], points: gs[i].querySelectorAll('path.point'), cd: this.gd.calcdata[ti] };
        this.groups[ti] = hit;
        return hit;
      }
    }
    return null;
  };

  // The path elements plotly drew for a "lines" trace (one per gap-free piece), and a spare one to clone when a
  // frame has more pieces than are drawn (kept when a frame with no piece removes them all).
  Player.prototype.lineGroup = function (ti) {
    var key = 'l' + ti, hit = this.groups[key], cd = this.gd.calcdata[ti];
    if (hit && hit.g.isConnected && hit.cd === cd) { return hit; }
    var grp = this.group(ti), lines = grp && grp.g.querySelector('g.lines');
    if (!lines) { return null; }
    var spare = hit && hit.cd === cd ? hit.spare : null;
    hit = { g: grp.g, lines: lines, cd: cd, spare: spare };
    this.groups[key] = hit;
    return hit;
  };

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function isGap(v) { return v === null || v === undefined || (typeof v === 'number' && !isFinite(v)); }

  function sameValues(a, b) {
    var arrA = Array.isArray(a) || ArrayBuffer.isView(a), arrB = Array.isArray(b) || ArrayBuffer.isView(b);
    if (arrA !== arrB) { return false; }
    if (!arrA) { return a === b; }
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) {
      var u = a[i], v = b[i];
      if (u !== v && !(isGap(u) && isGap(v) && (u === v || (typeof u === 'number' && typeof v === 'number')))) {
        return false;
      }
    }
    return true;
  }

  // True when every attribute of the update already holds the same values in the figure: Plotly.animate would
  // redraw what is drawn (e.g. a note that reads "" on most frames).
  function unchanged(upd, input) {
    if (!input) { return false; }
    for (var k in upd) {
      if (!Object.prototype.hasOwnProperty.call(upd, k) || k === '_fast' || k === 'type') { continue; }
      if (!sameValues(upd[k], input[k]) && !sameValues(upd[k], decode(input[k]))) { return false; }
    }
    return upd.type === undefined || upd.type === (input.type || 'scatter');
  }

  // Where plotly would draw a markers trace's points: [px, py] or null when only plotly can draw the frame.
  Player.prototype.planMarkers = function (ti, upd, full, cd, xa, ya) {
    var grp = this.group(ti), n = upd.x.length;
    if (!grp || grp.points.length !== n || cd.length !== n || upd.y.length !== n) { return null; }
    if (upd.text !== undefined && !(Array.isArray(upd.text) && upd.text.length === n)) { return null; }
    var px = new Array(n), py = new Array(n);
    for (var i = 0; i < n; i++) {
      px[i] = xa.c2p(upd.x[i]);
      py[i] = ya.c2p(upd.y[i]);
      if (!isFinite(px[i]) || !isFinite(py[i])) { return null; }
    }
    return { kind: 'markers', points: grp.points, px: px, py: py };
  };

  // The SVG path of each piece of a "lines" trace exactly as plotly's scatter plot writes it ('M' + points joined
  // by 'L', one path per run of valid points) for the cases where plotly keeps every point: linear shape, no
  // simplification, no fill, and every point within a screen of the plot area (plotly clips farther ones).
  Player.prototype.planLine = function (ti, upd, full, xa, ya) {
    var line = full.line || {};
    if ((line.shape || 'linear') !== 'linear' || line.simplify !== false || (full.fill && full.fill !== 'none')
        || !(line.backoff === 'auto' || !line.backoff)) { return null; }
    for (var key in upd) {
      if (Object.prototype.hasOwnProperty.call(upd, key) && key !== 'x' && key !== 'y' && key !== 'type'
          && key !== '_fast') { return null; }
    }
    var grp = this.lineGroup(ti);
    if (!grp) { return null; }
    var n = Math.min(upd.x.length, upd.y.length), w = xa._length, h = ya._length;
    if (!n) { return null; }  // plotly keeps a placeholder point in calcdata for an empty trace
    var pieces = [], cur = null, valid = new Array(n);
    for (var i = 0; i < n; i++) {
      var x = upd.x[i], y = upd.y[i];
      if (!isNum(x) || !isNum(y)) {
        if (!(isGap(x) || isGap(y))) { return null; }  // a date or category: plotly's own conversion
        valid[i] = false;
        if (!full.connectgaps) { cur = null; }
        continue;
      }
      var px = xa.c2p(x), py = ya.c2p(y);
      if (!isFinite(px) || !isFinite(py) || px < -w || px > 2 * w || py < -h || py > 2 * h) { return null; }
      valid[i] = true;
      if (!cur) { cur = []; pieces.push(cur); }
      cur.push([px, py]);
    }
    var paths = grp.lines.querySelectorAll('path.js-line');
    if (pieces.length > paths.length && !paths.length && !grp.spare) { return null; }  // nothing to clone
    return { kind: 'line', grp: grp, paths: paths, d: pieces.map(function (p) { return 'M' + p.join('L'); }),
             n: n, valid: valid };
  };

  Player.prototype.drawLine = function (t, cd) {
    var grp = t.grp, paths = t.paths, d = t.d, j;
    var model = paths.length ? paths[0] : grp.spare;
    for (j = paths.length; j < d.length; j++) {
      var el = model.cloneNode(false);
      el.__data__ = cd;  // plotly binds each line path to the trace's calcdata
      grp.lines.appendChild(el);
    }
    for (j = d.length; j < paths.length; j++) {
      if (j === 0) { grp.spare = paths[0]; }
      paths[j].remove();
    }
    var now = grp.lines.querySelectorAll('path.js-line');
    for (j = 0; j < d.length; j++) { now[j].setAttribute('d', d[j]); }
  };

  // Apply one frame by moving the SVG markers and rewriting line paths; false when it has to go through plotly.
  Player.prototype.applyFast = function (frame) {
    var gd = this.gd, plan = [];
    for (var j = 0; j < frame.data.length; j++) {
      var upd = frame.data[j], ti = frame.traces[j];
      var full = gd._fullData[ti], cd = gd.calcdata[ti];
      if (!full || !cd) { return false; }
      if (unchanged(upd, gd.data[ti])) { continue; }
      if (!upd._fast || full.type !== 'scatter' || (upd.type !== undefined && upd.type !== full.type)) { return false; }
      var xa = axisOf(gd, full.xaxis), ya = axisOf(gd, full.yaxis);
      if (!xa || !ya) { return false; }
      var step = null;
      if (full.mode === 'markers') { step = this.planMarkers(ti, upd, full, cd, xa, ya); }
      else if (full.mode === 'lines') { step = this.planLine(ti, upd, full, xa, ya); }
      if (!step) { return false; }
      step.ti = ti; step.upd = upd; step.full = full; step.cd = cd;
      plan.push(step);
    }
    for (var p = 0; p < plan.length; p++) {
      var t = plan[p], u = t.upd, fullT = t.full, cdT = t.cd, k;
      if (t.kind === 'markers') {
        for (k = 0; k < t.px.length; k++) {
          t.points[k].setAttribute('transform', 'translate(' + t.px[k] + ',' + t.py[k] + ')');
          cdT[k].x = u.x[k];
          cdT[k].y = u.y[k];
          if (u.text !== undefined) { cdT[k].tx = u.text[k]; }  // hover reads the point's text here
        }
      } else {
        this.drawLine(t, cdT);
        // calcdata as plotly's scatter calc leaves it (one entry per point, BADNUM = undefined at gaps), so a
        // later redraw (zoom, resize) draws this frame; cd[0] keeps the trace-wide fields (trace, t).
        cdT.length = t.n;
        for (k = 0; k < t.n; k++) {
          var pt = k === 0 ? cdT[0] : {};
          pt.x = t.valid[k] ? u.x[k] : undefined;
          pt.y = t.valid[k] ? u.y[k] : undefined;
          pt.i = k;
          cdT[k] = pt;
        }
        fullT._length = t.n;
      }
      var input = gd.data[t.ti];
      input.x = u.x; input.y = u.y; fullT.x = u.x; fullT.y = u.y;
      if (u.customdata !== undefined) { input.customdata = u.customdata; fullT.customdata = u.customdata; }
      if (u.text !== undefined) { input.text = u.text; fullT.text = u.text; }
    }
    return true;
  };

  Player.prototype.syncSlider = function (index, name) {
    var gd = this.gd, sl = this.slider();
    gd._fullLayout._currentFrame = name;
    if (!sl) { this._index = index; return; }
    if (sl._commandObserver && sl._commandObserver.check) {
      sl._commandObserver.check();  // plotly's own slider update: grip, "step" label, sl.active
    }
    if ((sl.active || 0) !== index) {  // no observer: set it the way relayout would
      sl.active = index;
      if (sl._input) { sl._input.active = index; }
    }
  };

  // Show slider position `index`; resolves when shown.
  Player.prototype.show = function (index) {
    if (!this.prepare()) { return Promise.resolve(false); }
    var names = this.stepNames(), n = names.length;
    index = Math.max(0, Math.min(n - 1, index));
    var name = names[index], fi = this.byName[name];
    if (fi === undefined) { return Promise.resolve(false); }
    var fast = this.applyFast(this.frames[fi]), self = this;
    var done;
    if (fast) {
      this.syncSlider(index, name);
      this.fastShown++;
      // What Plotly.animate emits for each frame, so code listening to plotly's own event sees these frames
      // too (plotly's slider observer re-checks and finds itself in sync already).
      if (this.gd.emit) {
        this.gd.emit('plotly_animatingframe', { name: name, frame: this.frames[fi],
          animation: { frame: { duration: 0, redraw: false }, transition: { duration: 0 } } });
      }
      done = Promise.resolve(true);
    } else {
      done = window.Plotly.animate(this.gd, [name], { mode: 'immediate', frame: { duration: 0, redraw: !!this.redraw },
                                                       transition: { duration: 0 } }).then(function () { return true; });
    }
    return done.then(function (ok) {
      self.shown++;
      var detail = { index: index, name: name, fast: fast };
      if (self.gd.emit) { self.gd.emit('descentlab_frame', detail); }
      self.gd.dispatchEvent(new CustomEvent('descentlab:frame', { detail: detail }));
      return ok;
    });
  };

  Player.prototype.step = function (delta) {
    this.pause();
    if (!this.prepare()) { return Promise.resolve(false); }
    return this.show(this.current() + delta);
  };

  Player.prototype.play = function () {
    if (this.playing || !this.prepare()) { return; }
    var self = this, n = this.count(), i = this.current();
    if (i >= n - 1) { i = 0; this.show(0); }
    this.playing = true;
    // At most one frame per rendered frame; `due` (ms owed) keeps the average at frameMs even when it is not
    // a multiple of the display interval, and is capped so a stall does not cause a burst.
    var prev = performance.now(), due = 0;
    var tick = function (now) {
      if (!self.playing) { return; }
      if (!self.gd || !self.gd.isConnected) { self.pause(); return; }
      due = Math.min(due + now - prev, self.frameMs);
      prev = now;
      if (due >= self.frameMs - 8) {
        due -= self.frameMs;
        i = self.current() + 1;
        if (i >= self.count()) { self.pause(); return; }
        self.show(i);
      }
      self.raf = window.requestAnimationFrame(tick);
    };
    this.raf = window.requestAnimationFrame(tick);
  };

  Player.prototype.pause = function () {
    this.playing = false;
    if (this.raf) { window.cancelAnimationFrame(this.raf); this.raf = 0; }
  };

  Player.prototype.command = function (what) {
    if (!this.prepare()) { return; }
    if (what === 'play') { this.play(); }
    else if (what === 'pause') { this.pause(); }
    else if (what === 'back') { this.step(-1); }
    else if (what === 'forward') { this.step(1); }
    else if (what === 'first') { this.pause(); this.show(0); }
    else if (what === 'last') { this.pause(); this.show(this.count() - 1); }
  };

  Player.prototype.onPointer = function (ev) {
    // With several player figures the keys go to the one clicked, or pointed at while nothing plays.
    var over = ev.target && ev.target.closest ? ev.target.closest('.js-plotly-plot') : null;
    if (over && over !== this.gd && over._fullLayout && isPlayerFigure(over)
        && (ev.type === 'pointerdown' || !this.playing)) {
      this.bind(over);
    }
    var gd = this.find();
    var inside = !!(gd && ev.target && gd.contains(ev.target));
    if (ev.type === 'pointerdown') { this.armed = inside; }
    this.pointerInside = inside;
  };

  Player.prototype.onKey = function (ev) {
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') { return; }
    if (ev.altKey || ev.ctrlKey || ev.metaKey || editable(ev.target)) { return; }
    if (!(this.pointerInside || this.armed) || !this.find()) { return; }
    ev.preventDefault();
    this.step(ev.key === 'ArrowRight' ? 1 : -1);
  };

  window.DescentLabPlayer = new Player();
})();
