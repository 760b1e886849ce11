/**
 * diffusers v0.23.0's ScoreSdeVeScheduler (Song et al. 2021, variance-exploding SDE, predictor–corrector),
 * in float32 with torch's operation order, so tables and steps match torch 1.13 on CPU bit for bit.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DIFFUSERS_VERSION } from '../diffusers.js';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkConfigKeys, readJsonConfig } from '../io/config.js';
import { type Generator, randn, randnTensor } from '../random/index.js';
import { assertFloat32, Tensor } from '../tensor.js';
import { glibcPowF32, sleefExpF32 } from './libm-f32.js';
import {
  resolveScoreSdeVeConfig,
  SCORE_SDE_VE_CONFIG_KEYS,
  type ScoreSdeVeSchedulerConfig,
  type ScoreSdeVeSchedulerOptions,
  scoreSdeVeConfigJson,
} from './score-sde-ve-config.js';
import { torchLinspaceF32 } from './torch-linspace.js';
import { torchMeanF32, torchRowNorms2F32 } from './torch-reductions.js';

/** A continuous timestep for stepPred: one for the whole batch, or one per batch row (diffusers broadcasts). */
export type ContinuousTimestep = number | readonly number[] | Tensor;

/** Indices into `discreteSigmas` for addNoise: one for the batch or one per row. */
export type DiscreteTimesteps = number | readonly number[] | Tensor;

export interface SchedulerStepOptions {
  /** diffusers `generator`: one Generator, or one per batch row; default the global generator (`torch.manual_seed`). */
  generator?: Generator | Generator[];
  /** Use this noise (same shape as the sample) instead of drawing it, e.g. to replay stored noise. */
  noise?: Tensor<'float32'>;
}

/** diffusers' `SdeVeOutput`. */
export interface SdeVeOutput {
  /** x_{t-1} = mean + g·z. */
  prevSample: Tensor<'float32'>;
  /** The noise-free part: x + g²·score. The pipeline's final image is this. */
  prevSampleMean: Tensor<'float32'>;
}

/** diffusers' `SchedulerOutput`. */
export interface SchedulerOutput {
  prevSample: Tensor<'float32'>;
}

export interface SchedulerFromConfigOptions {
  /** The config's file, named in warnings and errors. */
  file?: string;
  /** Receives warnings (unknown keys, another `_class_name`) instead of `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

export interface SchedulerFromPretrainedOptions {
  /** diffusers `subfolder`, e.g. "scheduler" in a pipeline folder. */
  subfolder?: string;
  onWarning?: (message: string) => void;
}

/** Warning code for a config whose `_class_name` names another class. */
export const OTHER_CLASS_CONFIG_WARNING = 'SCORESDE_CONFIG_OTHER_CLASS';

export class ScoreSdeVeScheduler {
  /** diffusers `config_name`: the file fromPretrained reads and saveConfig writes. */
  static readonly configName = 'scheduler_config.json';
  /** The diffusers version whose semantics (and `_diffusers_version`) this class reproduces. */
  static readonly diffusersVersion = DIFFUSERS_VERSION;
  /** diffusers `order`: model evaluations per step of the predictor. */
  readonly order = 1;
  /** The snake_case config as diffusers holds it. */
  readonly config: Readonly<ScoreSdeVeSchedulerConfig>;
  /** diffusers `init_noise_sigma` (= sigma_max): the standard deviation of the initial noise. */
  readonly initNoiseSigma: number;

  #timesteps!: Tensor<'float32'>;
  #sigmas!: Tensor<'float32'>;
  #discreteSigmas!: Tensor<'float32'>;

  constructor(options?: ScoreSdeVeSchedulerOptions) {
    const config = resolveScoreSdeVeConfig(options);
    this.config = Object.freeze(config);
    this.initNoiseSigma = config.sigma_max;
    // diffusers: timesteps = None; set_sigmas(num_train_timesteps, ...) which first calls set_timesteps.
    this.setTimesteps(config.num_train_timesteps, config.sampling_eps);
    this.setSigmas(config.num_train_timesteps, config.sigma_min, config.sigma_max, config.sampling_eps);
  }

  /**
   * diffusers `from_config`: builds a scheduler from a parsed `scheduler_config.json`. `_`-prefixed keys are dropped;
   * unknown keys are dropped with a warning naming them; a `_class_name` of another class gives a warning.
   */
  static fromConfig(
    config: Record<string, unknown>,
    options: SchedulerFromConfigOptions = {},
  ): ScoreSdeVeScheduler {
    const where = options.file ?? 'ScoreSdeVeScheduler.fromConfig';
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new TypeError(`${where}: config must be a plain object`);
    }
    const warn = (message: string, code: string) =>
      options.onWarning
        ? options.onWarning(message)
        : process.emitWarning(message, { type: 'ConfigWarning', code });
    const className = config._class_name;
    if (className !== undefined) {
      if (typeof className !== 'string') {
        throw new ConfigError(`${where}: _class_name must be a string, got ${JSON.stringify(className)}`);
      }
      if (className !== 'ScoreSdeVeScheduler') {
        warn(
          `${where}: config is for ${className}, loading it as ScoreSdeVeScheduler; keys it does not share are ignored`,
          OTHER_CLASS_CONFIG_WARNING,
        );
      }
    }
    const known = checkConfigKeys(config, SCORE_SDE_VE_CONFIG_KEYS, {
      what: 'ScoreSdeVeScheduler',
      file: options.file,
      onWarning: options.onWarning,
    });
    const cfg: Partial<Record<keyof ScoreSdeVeSchedulerConfig, number>> = {};
    for (const key of SCORE_SDE_VE_CONFIG_KEYS) {
      const value = known[key];
      if (value === undefined) continue;
      if (typeof value !== 'number') {
        throw new ConfigError(`${where}: ${key} must be a number, got ${JSON.stringify(value)}`);
      }
      cfg[key] = value;
    }
    const scheduleOptions: ScoreSdeVeSchedulerOptions = {
      numTrainTimesteps: cfg.num_train_timesteps,
      snr: cfg.snr,
      sigmaMin: cfg.sigma_min,
      sigmaMax: cfg.sigma_max,
      samplingEps: cfg.sampling_eps,
      correctSteps: cfg.correct_steps,
    };
    resolveScoreSdeVeConfig(scheduleOptions, where); // validates with the file's name in the message
    return new ScoreSdeVeScheduler(scheduleOptions);
  }

  /**
   * diffusers `from_pretrained`: reads `<dir>/[subfolder/]scheduler_config.json` (or `dir` itself when it is the
   * JSON file).
   */
  static async fromPretrained(
    dir: string,
    options: SchedulerFromPretrainedOptions = {},
  ): Promise<ScoreSdeVeScheduler> {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError('ScoreSdeVeScheduler.fromPretrained: dir must be a path');
    let file = join(dir, options.subfolder ?? '', ScoreSdeVeScheduler.configName);
    if (options.subfolder === undefined && (await stat(dir).catch(() => undefined))?.isFile()) file = dir;
    const json = await readJsonConfig(file);
    return ScoreSdeVeScheduler.fromConfig(json, { file, onWarning: options.onWarning });
  }

  /**
   * diffusers `save_config`: writes `<dir>/scheduler_config.json` (atomically) as diffusers v0.23.0 would.
   * Returns the file's path.
   */
  async saveConfig(dir: string): Promise<string> {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError('ScoreSdeVeScheduler.saveConfig: dir must be a path');
    if ((await stat(dir).catch(() => undefined))?.isFile()) {
      throw new TypeError(`ScoreSdeVeScheduler.saveConfig: ${dir} is a file, expected a directory`);
    }
    const file = join(dir, ScoreSdeVeScheduler.configName);
    await writeFileAtomic(file, this.toJsonString());
    return file;
  }

  /** diffusers `to_json_string`: the exact text saveConfig writes. */
  toJsonString(): string {
    return scoreSdeVeConfigJson(this.config, 'ScoreSdeVeScheduler', ScoreSdeVeScheduler.diffusersVersion);
  }

  /** Continuous timesteps, float32 (N,): torch.linspace(1, sampling_eps, N). */
  get timesteps(): Tensor<'float32'> {
    return this.#timesteps;
  }

  /** σ(t) = σmin·(σmax/σmin)^t for each timestep at the last setSigmas, float32. The network's noise level input. */
  get sigmas(): Tensor<'float32'> {
    return this.#sigmas;
  }

  /** exp(linspace(log σmin, log σmax, N)), float32 (N,): the σ the predictor steps between. */
  get discreteSigmas(): Tensor<'float32'> {
    return this.#discreteSigmas;
  }

  /** diffusers `len(scheduler)`: num_train_timesteps. */
  get length(): number {
    return this.config.num_train_timesteps;
  }

  /** diffusers `scale_model_input`: the identity for this scheduler. */
  scaleModelInput(sample: Tensor<'float32'>, _timestep?: number): Tensor<'float32'> {
    return sample;
  }

  /** diffusers `set_timesteps`: timesteps = torch.linspace(1, samplingEps ?? config.sampling_eps, numInferenceSteps). */
  setTimesteps(numInferenceSteps: number, samplingEps?: number): void {
    checkStepCount(numInferenceSteps, 'setTimesteps');
    const eps = samplingEps ?? this.config.sampling_eps;
    if (typeof eps !== 'number' || !(eps >= 0 && eps < 1)) {
      throw new RangeError(`setTimesteps: samplingEps must be a number in [0, 1), got ${eps}`);
    }
    this.#timesteps = new Tensor('float32', torchLinspaceF32(1, eps, numInferenceSteps), [numInferenceSteps]);
  }

  /**
   * diffusers `set_sigmas`. `discreteSigmas` gets `numInferenceSteps` entries, but `sigmas` is computed from the
   * **current** timesteps, whatever their length (call setTimesteps first, as the pipeline does). `samplingEps` only
   * matters when there are no timesteps yet, i.e. never after construction (as in diffusers).
   */
  setSigmas(numInferenceSteps: number, sigmaMin?: number, sigmaMax?: number, samplingEps?: number): void {
    checkStepCount(numInferenceSteps, 'setSigmas');
    const lo = sigmaMin ?? this.config.sigma_min;
    const hi = sigmaMax ?? this.config.sigma_max;
    for (const [name, value] of [
      ['sigmaMin', lo],
      ['sigmaMax', hi],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
        throw new RangeError(`setSigmas: ${name} must be a finite number > 0, got ${value}`);
      }
    }
    if (!(lo <= hi)) throw new RangeError(`setSigmas: sigmaMin (${lo}) must not exceed sigmaMax (${hi})`);
    if (this.#timesteps === undefined) this.setTimesteps(numInferenceSteps, samplingEps);

    const logs = torchLinspaceF32(Math.log(lo), Math.log(hi), numInferenceSteps);
    const discrete = logs.map(sleefExpF32);
    this.#discreteSigmas = new Tensor('float32', discrete, [numInferenceSteps]);

    // Python: sigma_min * (sigma_max / sigma_min) ** t, with t a float32 0-d tensor, so powf on float32 operands.
    const ratio = Math.fround(hi / lo);
    const lo32 = Math.fround(lo);
    const t = this.#timesteps.data;
    const sigmas = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) sigmas[i] = lo32 * glibcPowF32(ratio, t[i]);
    this.#sigmas = new Tensor('float32', sigmas, [t.length]);
  }

  /**
   * The index into `discreteSigmas` stepPred uses for each of `batch` rows: trunc(f32(t · (len(timesteps) − 1))),
   * computed in float32 like torch (float64 only for a float64 tensor with one value per row).
   */
  stepIndices(timestep: ContinuousTimestep, batch: number): Int32Array {
    const { values, double } = timestepValues(timestep, batch, 'stepPred: timestep');
    const scale = this.#timesteps.numel - 1;
    const n = this.#discreteSigmas.numel;
    const out = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      const t = values.length === 1 ? values[0] : values[b];
      const product = double ? t * scale : Math.fround(Math.fround(t) * scale);
      const index = Math.trunc(product) + 0;
      if (!Number.isFinite(product) || index < 0 || index >= n) {
        throw new RangeError(
          `stepPred: timestep ${t} gives index ${Number.isFinite(product) ? index : product}, outside the ` +
            `${n} discrete sigmas (timesteps run from 1 down to sampling_eps)`,
        );
      }
      out[b] = index;
    }
    return out;
  }

  /**
   * diffusers `step_pred`, the reverse-SDE predictor: with σ = discreteSigmas[i], σ' = discreteSigmas[i − 1] (0 at
   * i = 0) and g = sqrt(σ² − σ'²), mean = x + g²·modelOutput and prev = mean + g·z, z ~ N(0, 1).
   */
  stepPred(
    modelOutput: Tensor<'float32'>,
    timestep: ContinuousTimestep,
    sample: Tensor<'float32'>,
    options: SchedulerStepOptions = {},
  ): SdeVeOutput {
    const { batch, rowSize } = checkSamplePair(modelOutput, sample, 'stepPred');
    const indices = this.stepIndices(timestep, batch);
    const noise = this.#noise(sample, options, 'stepPred');
    const ds = this.#discreteSigmas.data;
    const mo = modelOutput.data;
    const x = sample.data;
    const z = noise.data;
    const mean = new Float32Array(x.length);
    const prev = new Float32Array(x.length);
    for (let b = 0; b < batch; b++) {
      const i = indices[b];
      const sigma = ds[i];
      const adjacent = i === 0 ? 0 : ds[i - 1];
      // (sigma**2 - adjacent**2) ** 0.5, each op rounded to float32
      const g = Math.fround(
        Math.sqrt(Math.fround(Math.fround(sigma * sigma) - Math.fround(adjacent * adjacent))),
      );
      const g2 = Math.fround(g * g);
      const end = (b + 1) * rowSize;
      for (let k = b * rowSize; k < end; k++) {
        // drift = 0 - g²·mo; mean = x - drift (kept as two ops so signed zeros match torch)
        const drift = 0 - Math.fround(g2 * mo[k]);
        const m = Math.fround(x[k] - drift);
        mean[k] = m;
        prev[k] = m + Math.fround(g * z[k]);
      }
    }
    return {
      prevSample: new Tensor('float32', prev, sample.dims),
      prevSampleMean: new Tensor('float32', mean, sample.dims),
    };
  }

  /**
   * diffusers `step_correct`, one Langevin corrector step: ε = 2·(snr·‖z‖/‖modelOutput‖)² with each norm averaged
   * over the batch (one ε for all rows), prev = x + ε·modelOutput + sqrt(2ε)·z. A zero modelOutput gives NaN, as in
   * diffusers.
   */
  stepCorrect(
    modelOutput: Tensor<'float32'>,
    sample: Tensor<'float32'>,
    options: SchedulerStepOptions = {},
  ): SchedulerOutput {
    const { batch } = checkSamplePair(modelOutput, sample, 'stepCorrect');
    const noise = this.#noise(sample, options, 'stepCorrect');
    const mo = modelOutput.data;
    const x = sample.data;
    const z = noise.data;
    const gradNorm = torchMeanF32(torchRowNorms2F32(mo, batch));
    const noiseNorm = torchMeanF32(torchRowNorms2F32(z, batch));
    const ratio = Math.fround(Math.fround(Math.fround(this.config.snr) * noiseNorm) / gradNorm);
    const stepSize = Math.fround(Math.fround(ratio * ratio) * 2);
    const noiseScale = Math.fround(Math.sqrt(Math.fround(stepSize * 2)));
    const prev = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const m = Math.fround(x[k] + Math.fround(stepSize * mo[k]));
      prev[k] = m + Math.fround(noiseScale * z[k]);
    }
    return { prevSample: new Tensor('float32', prev, sample.dims) };
  }

  /**
   * diffusers `add_noise`: original + noise·discreteSigmas[timesteps] per batch row. `noise` null/undefined draws it
   * from the global generator (`torch.randn_like`). `timesteps` are integer indices into discreteSigmas.
   */
  addNoise(
    original: Tensor<'float32'>,
    noise: Tensor<'float32'> | null | undefined,
    timesteps: DiscreteTimesteps,
  ): Tensor<'float32'> {
    assertFloat32(original, 'addNoise: original');
    if (original.rank < 1 || original.numel === 0) {
      throw new RangeError(
        `addNoise: original must be a non-empty (B, ...) tensor, got [${original.dims.join(', ')}]`,
      );
    }
    const batch = original.dims[0];
    const rowSize = original.numel / batch;
    const indices = discreteIndices(timesteps, batch, this.#discreteSigmas.numel);
    if (noise !== null && noise !== undefined) assertFloat32(noise, 'addNoise: noise', original.dims);
    const z = (noise ?? randn(original.dims)).data;
    const ds = this.#discreteSigmas.data;
    const o = original.data;
    const out = new Float32Array(o.length);
    for (let b = 0; b < batch; b++) {
      const sigma = ds[indices.length === 1 ? indices[0] : indices[b]];
      const end = (b + 1) * rowSize;
      for (let k = b * rowSize; k < end; k++) out[k] = Math.fround(z[k] * sigma) + o[k];
    }
    return new Tensor('float32', out, original.dims);
  }

  #noise(sample: Tensor<'float32'>, options: SchedulerStepOptions, where: string): Tensor<'float32'> {
    if (typeof options !== 'object' || options === null)
      throw new TypeError(`${where}: options must be an object`);
    if (options.noise !== undefined) {
      assertFloat32(options.noise, `${where}: options.noise`, sample.dims);
      return options.noise;
    }
    return randnTensor(sample.dims, { generator: options.generator });
  }
}

function checkStepCount(n: number, where: string): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new RangeError(`${where}: numInferenceSteps must be an integer ≥ 1, got ${n}`);
  }
}

/** Checks modelOutput and sample: float32, same non-empty shape (B, ...). */
function checkSamplePair(
  modelOutput: Tensor<'float32'>,
  sample: Tensor<'float32'>,
  where: string,
): { batch: number; rowSize: number } {
  assertFloat32(sample, `${where}: sample`);
  assertFloat32(modelOutput, `${where}: modelOutput`, sample.dims);
  if (sample.rank < 1 || sample.numel === 0) {
    throw new RangeError(
      `${where}: sample must be a non-empty (B, ...) tensor, got [${sample.dims.join(', ')}]`,
    );
  }
  return { batch: sample.dims[0], rowSize: sample.numel / sample.dims[0] };
}

/** The timestep values (1 or `batch` of them) and whether torch would compute the index in float64. */
function timestepValues(
  timestep: ContinuousTimestep,
  batch: number,
  name: string,
): { values: ArrayLike<number>; double: boolean } {
  let values: ArrayLike<number>;
  let double = false;
  if (typeof timestep === 'number') {
    values = [timestep];
  } else if (Array.isArray(timestep)) {
    if (!timestep.every((t) => typeof t === 'number')) throw new TypeError(`${name} array must hold numbers`);
    values = timestep as readonly number[];
  } else if (timestep instanceof Tensor) {
    if (timestep.dtype === 'float32' || timestep.dtype === 'float64' || timestep.dtype === 'int32') {
      values = timestep.data as Float32Array | Float64Array | Int32Array;
    } else if (timestep.dtype === 'int64') {
      values = Array.from(timestep.data as BigInt64Array, Number);
    } else {
      throw new TypeError(`${name} tensor must be float32, float64, int32 or int64, got ${timestep.dtype}`);
    }
    if (timestep.rank > 1 && timestep.numel !== 1) {
      throw new RangeError(`${name} tensor must be a scalar or 1-D, got [${timestep.dims.join(', ')}]`);
    }
    // A float64 tensor with a batch dimension keeps `t * ones(B)` in float64 (type promotion); a 0-d one does not.
    double = timestep.dtype === 'float64' && timestep.rank === 1;
  } else {
    throw new TypeError(`${name} must be a number, an array of numbers or a Tensor`);
  }
  if (values.length !== 1 && values.length !== batch) {
    throw new RangeError(`${name} has ${values.length} values for a batch of ${batch}; pass 1 or ${batch}`);
  }
  return { values, double };
}

/** Integer indices into the discrete sigmas (1 or `batch` of them), range-checked. */
function discreteIndices(timesteps: DiscreteTimesteps, batch: number, n: number): ArrayLike<number> {
  const name = 'addNoise: timesteps';
  let values: ArrayLike<number>;
  if (typeof timesteps === 'number') values = [timesteps];
  else if (Array.isArray(timesteps)) values = timesteps as readonly number[];
  else if (timesteps instanceof Tensor) {
    if (timesteps.dtype === 'int64') values = Array.from(timesteps.data as BigInt64Array, Number);
    else if (timesteps.dtype === 'int32') values = timesteps.data as Int32Array;
    else
      throw new TypeError(`${name} must be integer indices (int32 or int64 tensor), got ${timesteps.dtype}`);
    if (timesteps.rank > 1) throw new RangeError(`${name} must be 1-D, got [${timesteps.dims.join(', ')}]`);
  } else {
    throw new TypeError(`${name} must be an integer, an array of integers or an integer Tensor`);
  }
  if (values.length !== 1 && values.length !== batch) {
    throw new RangeError(`${name} has ${values.length} values for a batch of ${batch}; pass 1 or ${batch}`);
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) {
      throw new RangeError(`${name}[${i}] = ${v} is not an index into the ${n} discrete sigmas`);
    }
  }
  return values;
}
