/**
 * A PNG's size and alpha from its chunks before the pixel data, without libvips: indexing a folder of
 * 100,000 small PNGs costs a file read each instead of a decoder start each. Anything unusual (an EXIF
 * chunk, which may rotate the image, or a structure this walk does not follow) answers undefined, and the
 * caller asks sharp instead, so the answer is always the one sharp's `metadata()` gives.
 */
import type { SourceShape } from './image-decode.js';

const SIGNATURE_BYTES = 8;
const COLOUR_TYPES_WITH_ALPHA = new Set([4, 6]); // grey + alpha, RGBA

/** Width, height and alpha of the PNG in `bytes`, or undefined when sharp must decide. */
export function pngHeader(bytes: Uint8Array): SourceShape | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  let at = SIGNATURE_BYTES;
  if (bytes.length < at + 8 + 13 || type(at) !== 'IHDR' || view.getUint32(at) !== 13) return undefined;
  const width = view.getUint32(at + 8);
  const height = view.getUint32(at + 12);
  let hasAlpha = COLOUR_TYPES_WITH_ALPHA.has(bytes[at + 8 + 9]);
  // the chunks up to the first IDAT: tRNS adds alpha, eXIf may change the orientation
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const name = type(at);
    if (name === 'IDAT') return { width, height, hasAlpha };
    if (name === 'eXIf' || name === 'IEND') return undefined;
    if (name === 'tRNS') hasAlpha = true;
    at += 12 + length;
  }
  return undefined;
}
