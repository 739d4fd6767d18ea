import * as yauzl from 'yauzl';
import { DocumentParseError } from './parse-errors';
import { formatBytes, type ParseLimits } from '../../config/parse-limits';

type ZipLimits = Pick<ParseLimits, 'zipMaxUncompressedBytes' | 'zipMaxCompressionRatio' | 'zipMaxEntries'>;

/**
 * Checks a zip container (docx) before anything inflates it: the central directory's entry count,
 * declared sizes and compression ratios first; then every entry is inflated as a stream and
 * counted, so an entry whose header understates its size is stopped at its declared size (yauzl
 * checks that) and the whole at `zipMaxUncompressedBytes`. Nothing inflated is kept.
 * Throws DocumentParseError `too_large` naming the limit, or `corrupt`.
 */
export async function checkZipContainer(bytes: Buffer, limits: ZipLimits): Promise<void> {
  const zip = await open(bytes);
  try {
    if (zip.entryCount > limits.zipMaxEntries) {
      throw new DocumentParseError(
        'too_large',
        `the docx holds ${zip.entryCount} files, more than ZIP_MAX_ENTRIES (${limits.zipMaxEntries})`,
      );
    }
    const entries = await readEntries(zip);
    let declared = 0;
    for (const entry of entries) {
      declared += entry.uncompressedSize;
      if (declared > limits.zipMaxUncompressedBytes) {
        throw new DocumentParseError(
          'too_large',
          `the docx inflates beyond ${formatBytes(limits.zipMaxUncompressedBytes)} (ZIP_MAX_UNCOMPRESSED_BYTES)`,
        );
      }
      const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
      if (ratio > limits.zipMaxCompressionRatio) {
        throw new DocumentParseError(
          'too_large',
          `the docx entry ${JSON.stringify(entry.fileName.slice(0, 100))} inflates ${Math.round(ratio)} times its size, more than ZIP_MAX_COMPRESSION_RATIO (${limits.zipMaxCompressionRatio})`,
        );
      }
    }
    let inflated = 0;
    for (const entry of entries) {
      if (entry.fileName.endsWith('/')) continue;
      inflated += await inflatedSize(zip, entry, limits.zipMaxUncompressedBytes - inflated, limits.zipMaxUncompressedBytes);
    }
  } finally {
    zip.close();
  }
}

function open(bytes: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: true }, (error, zip) => {
      if (error || !zip) reject(corrupt(error));
      else resolve(zip);
    });
  });
}

function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: Error) => reject(corrupt(error)));
    zip.readEntry();
  });
}

/** Inflates one entry to nowhere, counting its bytes; stops past `budget`. */
function inflatedSize(zip: yauzl.ZipFile, entry: yauzl.Entry, budget: number, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error || !stream) {
        reject(corrupt(error));
        return;
      }
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > budget) {
          stream.destroy();
          reject(new DocumentParseError('too_large', `the docx inflates beyond ${formatBytes(limit)} (ZIP_MAX_UNCOMPRESSED_BYTES)`));
        }
      });
      stream.once('error', (streamError: Error) => reject(corrupt(streamError)));
      stream.once('end', () => resolve(size));
    });
  });
}

function corrupt(error: unknown): DocumentParseError {
  if (error instanceof DocumentParseError) return error;
  const message = error instanceof Error ? error.message : 'unreadable';
  // yauzl: "too many length or distance symbols", "invalid relative offset"… and, for a header that lies, "too many bytes in the stream"
  if (/too many bytes|expected \d+ bytes/i.test(message))
    return new DocumentParseError('too_large', `the docx inflates beyond the sizes it declares (${message.slice(0, 200)})`);
  return new DocumentParseError('corrupt', `the docx could not be read: ${message.slice(0, 300)}`);
}
