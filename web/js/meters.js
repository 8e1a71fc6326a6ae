// Small measuring helpers for the tiles: a per-second rate over a sliding
// window, and an exponentially smoothed value.

export class RateMeter {
  constructor(windowMs = 2000) {
    this.windowMs = windowMs;
    this.samples = []; // [time ms, amount]
  }

  add(amount = 1, now = performance.now()) {
    this.samples.push([now, amount]);
    this.trim(now);
  }

  // Amount per second over the window (0 when nothing arrived lately).
  perSecond(now = performance.now()) {
    this.trim(now);
    if (this.samples.length < 2) return 0;
    // The first sample only marks where the measured span starts: n samples
    // bound n-1 intervals, and counting all n would read 61 fps for 60.
    let sum = 0;
    for (let i = 1; i < this.samples.length; i++) sum += this.samples[i][1];
    // Measure up to the last sample while samples keep coming; once they stop
    // measure up to now, so a stalled stream decays to zero.
    const first = this.samples[0][0];
    const last = this.samples[this.samples.length - 1][0];
    const end = now - last < this.windowMs / 8 ? last : now;
    const span = Math.max(end - first, this.windowMs / 2);
    return (sum * 1000) / span;
  }

  trim(now) {
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < this.samples.length && this.samples[i][0] < cutoff) i++;
    if (i) this.samples.splice(0, i);
  }

  reset() {
    this.samples = [];
  }
}

export class Smoothed {
  constructor(alpha = 0.1) {
    this.alpha = alpha;
    this.value = null;
  }

  add(x) {
    this.value = this.value === null ? x : this.value + this.alpha * (x - this.value);
    return this.value;
  }

  reset() {
    this.value = null;
  }
}
