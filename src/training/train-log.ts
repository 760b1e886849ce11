/**
 * `DIR/train_log.jsonl`: one JSON line per step, `{"step", "loss", "lr", "grad_norm", "seconds"}` (`step` is
 * 1-based, `seconds` the step's wall-clock time). On resume the lines after the checkpoint's step (written by
 * the interrupted run after its last checkpoint) are dropped first, so the log has each step once. With
 * `diagnoseEvery`, per-σ denoiser records `{"step", "denoiser": [...]}` sit between the step records.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

export const LOG_FILE = 'train_log.jsonl';

export interface LogRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  seconds: number;
}

export class TrainLog {
  private constructor(private readonly handle: FileHandle) {}

  /** Opens the log of `runDir` for appending, keeping only records of steps ≤ `keepUpTo` (0: a fresh log). */
  static async open(runDir: string, keepUpTo: number): Promise<TrainLog> {
    const path = join(runDir, LOG_FILE);
    let kept = '';
    if (keepUpTo > 0) {
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      for (const line of text.split('\n')) {
        let rec: Partial<LogRecord> | undefined;
        try {
          rec = JSON.parse(line);
        } catch {
          continue; // a line cut short by a kill
        }
        if (typeof rec?.step === 'number' && rec.step <= keepUpTo) kept += `${line}\n`;
      }
    }
    await writeFileAtomic(path, kept);
    return new TrainLog(await open(path, 'a'));
  }

  /** A per-σ denoiser record (diagnose.ts): `{"step", "denoiser": [{sigma, model, gaussian, ratio, normCorrectedRatio}], …}`. */
  async writeDiagnostic(rec: { step: number; denoiser: object[] } & Record<string, unknown>): Promise<void> {
    await this.handle.write(`${JSON.stringify(rec)}\n`);
  }

  async write(rec: LogRecord): Promise<void> {
    await this.handle.write(`${JSON.stringify(rec)}\n`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
