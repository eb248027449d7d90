export function median(values: number[]): number {
  return quantile(values, 0.5)
}

/** Linear interpolation between the closest ranks; NaN for no values. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

/** Rounds for the results file: enough digits to compare, no float noise. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Ratios of paired runs, summarised on the log scale (ratios multiply, so they average there). */
export interface Spread {
  geomean: number
  /** 95 % confidence interval of the geometric mean (t-interval on the log ratios). */
  low: number
  high: number
  min: number
  max: number
}

// Two-sided 95 % t quantiles by degrees of freedom; between entries the smaller df (wider).
const T95: [number, number][] = [
  [1, 12.706],
  [2, 4.303],
  [3, 3.182],
  [4, 2.776],
  [5, 2.571],
  [7, 2.365],
  [10, 2.228],
  [15, 2.131],
  [20, 2.086],
  [30, 2.042],
  [40, 2.021],
  [60, 2.0]
]
const t95 = (df: number) => T95.filter(([k]) => k <= df).pop()?.[1] ?? Infinity

export function spread(values: number[]): Spread {
  const logs = values.map(Math.log)
  const m = logs.reduce((a, v) => a + v, 0) / logs.length
  const sd = Math.sqrt(logs.reduce((a, v) => a + (v - m) ** 2, 0) / (logs.length - 1))
  const half = (t95(logs.length - 1) * sd) / Math.sqrt(logs.length)
  return {
    geomean: Math.exp(m),
    low: Math.exp(m - half),
    high: Math.exp(m + half),
    min: Math.min(...values),
    max: Math.max(...values)
  }
}
