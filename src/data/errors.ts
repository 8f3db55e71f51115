/** A dataset (folder, CSV or IDX file) that cannot be read at all; the message names the file and, for text files, the line. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}
