/**
 * The contract between datasets (image folders, IDX files) and their users (training, likelihood,
 * evaluation). A dataset is random access over images already decoded to the model's format.
 */

/** Images as the model sees them: float32 in [0, 1], channel-first, one fixed size. */
export interface ImageDataset {
  /** Where it came from (a folder or file path), for messages. */
  readonly source: string;
  /** Number of images. */
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Class labels when the format has them (IDX label files), else undefined. */
  readonly labels?: Uint8Array;
  /** Class names indexed by label, when they are known (an image folder's class subfolders). */
  readonly classes?: readonly string[];
  /** Files skipped as unreadable when opened with `skipUnreadable` (0 or undefined otherwise). */
  readonly skipped?: number;
  /**
   * Writes image `index` as (C, H, W) float32 in [0, 1] into `out` starting at `offset`.
   * Values are k/255 for 8-bit sources, so the 8-bit value is recoverable as round(v·255).
   */
  read(index: number, out: Float32Array, offset?: number): Promise<void>;
}
