// Sizes the way smem -k prints them (1024-based, one decimal, K/M/G/T suffix), or raw bytes with --bytes.

const SUFFIXES = ['K', 'M', 'G', 'T', 'P'];

export function formatSize(bytes: number, raw = false): string {
  if (raw) return String(bytes);
  if (bytes < 1024) return bytes === 0 ? '0' : `${bytes}B`;
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < SUFFIXES.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)}${SUFFIXES[i]}`;
}

export function formatPercent(part: number, whole: number): string {
  if (whole === 0) return '-';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

export function formatAddress(a: number): string {
  return a.toString(16).padStart(12, '0');
}
