/** Small numeric and formatting helpers shared by the benchmarks. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/**
 * The median: the middle sample, or the mean of the two middle ones for an even count (the
 * nearest-rank percentile would take the lower of them, which biases an even number of rounds low).
 */
export function median(samples: ArrayLike<number>): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Rounds to `digits` decimals (keeps the JSON results short). */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export type Cell = string | number | boolean | null;

/** Prints a titled, column-aligned table (numbers right-aligned). */
export function printTable(title: string, headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  const text = rows.map((row) => row.map((cell) => (cell === null ? '–' : String(cell))));
  const widths = headers.map((header, i) => Math.max(header.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[], numeric: readonly boolean[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ');
  console.log(`\n${title}`);
  console.log(line(headers, headers.map(() => false)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (let r = 0; r < rows.length; r += 1) {
    const numeric = (rows[r] ?? []).map((cell) => typeof cell === 'number');
    console.log(line(text[r] ?? [], numeric));
  }
}
