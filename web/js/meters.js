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
    let sum = 0;
    for (const [, a] of this.samples) sum += a;
    // Measure over the whole window once it is full, so a stream that stops
    // decays to zero instead of keeping its last rate.
    const span = Math.max(now - this.samples[0][0], this.windowMs / 2);
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
