/** One image of a dataset. */
export interface DataItem {
  /** Stable id within the dataset: the path relative to its root, or `idx:<n>`. */
  id: string;
  /** Where the pixels come from: an absolute file path, or raw pixels for IDX items. */
  source: string | RawImage;
  /** Class names (one for single-label data; any number for multi-label). */
  labels: string[];
}

/** Pixels already in memory (e.g. from an IDX file): 8-bit, row-major, `channels` interleaved. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** A file the reader could not use, and why. */
export interface SkippedItem {
  /** The file (or CSV line) concerned. */
  source: string;
  reason: string;
}

export interface Dataset {
  /** Where it was read from. */
  root: string;
  items: DataItem[];
  /** Sorted class vocabulary. */
  classes: string[];
  /** True when any item has other than exactly one label (CSV with `|`). */
  multiLabel: boolean;
  /** Entries found but not usable (unreadable, unknown extension, …). */
  skipped: SkippedItem[];
  /** Hidden entries (dotfiles such as `.DS_Store`, `.git`) a folder reader passed over without a `skipped` entry. */
  hidden?: number;
}
