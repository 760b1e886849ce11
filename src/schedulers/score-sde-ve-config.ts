/**
 * ScoreSdeVeScheduler's config: the snake_case dict diffusers keeps in `scheduler.config`, its defaults,
 * validation, and the `scheduler_config.json` text diffusers' `save_config` writes.
 */
import { ConfigError } from '../errors.js';

/** The scheduler's config exactly as diffusers v0.23.0 holds it (`scheduler.config`). */
export interface ScoreSdeVeSchedulerConfig {
  num_train_timesteps: number;
  snr: number;
  sigma_min: number;
  sigma_max: number;
  sampling_eps: number;
  correct_steps: number;
}

/** Constructor options; each maps to the diffusers config key named in its comment. */
export interface ScoreSdeVeSchedulerOptions {
  /** `num_train_timesteps` (default 2000): the length of the tables the constructor builds. */
  numTrainTimesteps?: number;
  /** `snr` (default 0.15): signal-to-noise ratio that sets the corrector's (Langevin) step size. */
  snr?: number;
  /** `sigma_min` (default 0.01): the smallest noise level. */
  sigmaMin?: number;
  /** `sigma_max` (default 1348.0): the largest noise level; also `initNoiseSigma`. */
  sigmaMax?: number;
  /** `sampling_eps` (default 1e-5): the last continuous timestep; timesteps run from 1 down to it. */
  samplingEps?: number;
  /** `correct_steps` (default 1): corrector steps per predictor step. */
  correctSteps?: number;
}

/** diffusers v0.23.0's defaults (`ScoreSdeVeScheduler.__init__`). */
export const SCORE_SDE_VE_DEFAULTS: Readonly<ScoreSdeVeSchedulerConfig> = Object.freeze({
  num_train_timesteps: 2000,
  snr: 0.15,
  sigma_min: 0.01,
  sigma_max: 1348.0,
  sampling_eps: 1e-5,
  correct_steps: 1,
});

/** The defaults as constructor options (camelCase), e.g. for samplers that take the scheduler's settings. */
export const SCORE_SDE_VE_OPTION_DEFAULTS: Readonly<Required<ScoreSdeVeSchedulerOptions>> = Object.freeze({
  numTrainTimesteps: SCORE_SDE_VE_DEFAULTS.num_train_timesteps,
  snr: SCORE_SDE_VE_DEFAULTS.snr,
  sigmaMin: SCORE_SDE_VE_DEFAULTS.sigma_min,
  sigmaMax: SCORE_SDE_VE_DEFAULTS.sigma_max,
  samplingEps: SCORE_SDE_VE_DEFAULTS.sampling_eps,
  correctSteps: SCORE_SDE_VE_DEFAULTS.correct_steps,
});

/**
 * Upper bounds: the constructor builds float32 tables of num_train_timesteps entries (diffusers' checkpoints use
 * 2000), and every predictor step runs correct_steps network calls.
 */
export const SCORE_SDE_VE_LIMITS = Object.freeze({ numTrainTimesteps: 1_000_000, correctSteps: 1000 });

/** The config keys, in diffusers' `__init__` order. */
export const SCORE_SDE_VE_CONFIG_KEYS = Object.freeze(
  Object.keys(SCORE_SDE_VE_DEFAULTS) as (keyof ScoreSdeVeSchedulerConfig)[],
);

/** The camelCase option behind each config key. */
const OPTION_NAMES: Record<keyof ScoreSdeVeSchedulerConfig, keyof ScoreSdeVeSchedulerOptions> = {
  num_train_timesteps: 'numTrainTimesteps',
  snr: 'snr',
  sigma_min: 'sigmaMin',
  sigma_max: 'sigmaMax',
  sampling_eps: 'samplingEps',
  correct_steps: 'correctSteps',
};

/** Keys whose values are Python ints (the rest are floats, written as `1348.0`). */
const INT_KEYS = new Set<keyof ScoreSdeVeSchedulerConfig>(['num_train_timesteps', 'correct_steps']);

/** Merges options over the defaults and validates; `where` prefixes error messages (a file or the class name). */
export function resolveScoreSdeVeConfig(
  options: ScoreSdeVeSchedulerOptions | undefined,
  where = 'ScoreSdeVeScheduler',
): ScoreSdeVeSchedulerConfig {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
  }
  const config = { ...SCORE_SDE_VE_DEFAULTS };
  for (const key of SCORE_SDE_VE_CONFIG_KEYS) {
    const value = options?.[OPTION_NAMES[key]];
    if (value !== undefined) config[key] = value;
  }
  validateScoreSdeVeConfig(config, where);
  return config;
}

/** Throws a ConfigError naming the key (diffusers' and ours) and the problem. */
export function validateScoreSdeVeConfig(config: ScoreSdeVeSchedulerConfig, where: string): void {
  const fail = (key: keyof ScoreSdeVeSchedulerConfig, problem: string): never => {
    throw new ConfigError(`${where}: ${key} (${OPTION_NAMES[key]}) ${problem}, got ${describe(config[key])}`);
  };
  for (const key of SCORE_SDE_VE_CONFIG_KEYS) {
    if (typeof config[key] !== 'number' || !Number.isFinite(config[key]))
      fail(key, 'must be a finite number');
  }
  const { numTrainTimesteps: maxT, correctSteps: maxC } = SCORE_SDE_VE_LIMITS;
  const t = config.num_train_timesteps;
  if (!Number.isInteger(t) || t < 1 || t > maxT)
    fail('num_train_timesteps', `must be an integer in [1, ${maxT}]`);
  const c = config.correct_steps;
  if (!Number.isInteger(c) || c < 0 || c > maxC) fail('correct_steps', `must be an integer in [0, ${maxC}]`);
  if (!(config.snr >= 0)) fail('snr', 'must be ≥ 0');
  if (!(config.sigma_min > 0)) fail('sigma_min', 'must be > 0');
  if (!(config.sigma_max > 0)) fail('sigma_max', 'must be > 0');
  if (!(config.sigma_min <= config.sigma_max)) {
    throw new ConfigError(
      `${where}: sigma_min (${config.sigma_min}) must not exceed sigma_max (${config.sigma_max})`,
    );
  }
  if (!(config.sampling_eps >= 0 && config.sampling_eps < 1)) fail('sampling_eps', 'must be in [0, 1)');
}

/**
 * The text diffusers v0.23.0's `save_config` writes: `json.dumps(config, indent=2, sort_keys=True) + "\n"` with
 * `_class_name` and `_diffusers_version` added, floats in Python's repr (`1348.0`, `1e-05`).
 */
export function scoreSdeVeConfigJson(
  config: ScoreSdeVeSchedulerConfig,
  className: string,
  version: string,
): string {
  const entries: [string, string][] = [
    ['_class_name', JSON.stringify(className)],
    ['_diffusers_version', JSON.stringify(version)],
  ];
  for (const key of SCORE_SDE_VE_CONFIG_KEYS) {
    const value = config[key];
    entries.push([key, INT_KEYS.has(key) ? String(value) : pythonFloatRepr(value)]);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{\n${entries.map(([k, v]) => `  ${JSON.stringify(k)}: ${v}`).join(',\n')}\n}\n`;
}

/** Python's `repr(float)` (what `json.dumps` writes): shortest round-trip digits, `.0` on integers, `e-05` style exponents. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp >= -4 && exp < 16) {
    // Fixed notation, like Python's repr for 1e-4 <= |x| < 1e16.
    let text: string;
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      text = `${intPart}.${frac || '0'}`;
    } else {
      text = `0.${'0'.repeat(-exp - 1)}${digits}`;
    }
    return sign + text;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
