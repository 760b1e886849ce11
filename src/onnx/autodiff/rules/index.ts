/** Every gradient rule, by ONNX op type. */
import type { GradRule } from '../types.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { LINALG_RULES } from './linalg.js';
import { NORM_RULES } from './norm.js';
import { REDUCE_RULES } from './reduce.js';
import { SHAPE_RULES } from './shape.js';
import { SPATIAL_RULES } from './spatial.js';

export const RULES: Readonly<Record<string, GradRule>> = {
  ...ELEMENTWISE_RULES,
  ...LINALG_RULES,
  ...NORM_RULES,
  ...REDUCE_RULES,
  ...SHAPE_RULES,
  ...SPATIAL_RULES,
};
