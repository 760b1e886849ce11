/** Gradient rules of the elementwise ops: arithmetic with numpy broadcasting, and the activations. */
import type { GradRule } from '../types.js';
import { neg, unbroadcast } from '../util.js';

const one = (g: Parameters<GradRule>[0]['g']) => g.constFloat([1], []);

/** y = a + b */
const Add: GradRule = ({ g, node, dy, needs }) => {
  const [a, b] = node.inputs;
  return [
    needs(0) ? unbroadcast(g, dy, g.shape(a)) : undefined,
    needs(1) ? unbroadcast(g, dy, g.shape(b)) : undefined,
  ];
};

/** y = a − b */
const Sub: GradRule = ({ g, node, dy, needs }) => {
  const [a, b] = node.inputs;
  return [
    needs(0) ? unbroadcast(g, dy, g.shape(a)) : undefined,
    needs(1) ? neg(g, unbroadcast(g, dy, g.shape(b))) : undefined,
  ];
};

/** y = a · b (a · a: 2 a dy). */
const Mul: GradRule = ({ g, node, dy, needs }) => {
  const [a, b] = node.inputs;
  if (a === b) return [g.mul(g.mul(dy, a), g.constFloat([2], [])), undefined];
  return [
    needs(0) ? unbroadcast(g, g.mul(dy, b), g.shape(a)) : undefined,
    needs(1) ? unbroadcast(g, g.mul(dy, a), g.shape(b)) : undefined,
  ];
};

/** y = a / b: da = dy / b, db = −dy · y / b. */
const Div: GradRule = ({ g, node, dy, needs }) => {
  const [a, b] = node.inputs;
  const da = needs(0) || needs(1) ? g.div(dy, b) : undefined;
  return [
    needs(0) ? unbroadcast(g, da!, g.shape(a)) : undefined,
    needs(1) ? neg(g, unbroadcast(g, g.mul(da!, node.outputs[0]), g.shape(b))) : undefined,
  ];
};

const Neg: GradRule = ({ g, dy }) => [neg(g, dy)];
const Identity: GradRule = ({ dy }) => [dy];

/** σ' = y (1 − y), from the output. */
const Sigmoid: GradRule = ({ g, node, dy }) => {
  const y = node.outputs[0];
  return [g.mul(dy, g.mul(y, g.sub(one(g), y)))];
};

/** tanh' = 1 − y², from the output. */
const Tanh: GradRule = ({ g, node, dy }) => {
  const y = node.outputs[0];
  return [g.mul(dy, g.sub(one(g), g.mul(y, y)))];
};

/** relu' = [y > 0], from the output. */
const Relu: GradRule = ({ g, node, dy }) => {
  const y = node.outputs[0];
  const pos = g.op('Greater', [y, g.constFloat([0], [])], {}, g.shape(y), 'bool');
  return [g.op('Where', [pos, dy, g.constFloat([0], [])], {}, g.shape(dy))];
};

const Sin: GradRule = ({ g, node, dy }) => [g.mul(dy, g.cos(node.inputs[0]))];
const Cos: GradRule = ({ g, node, dy }) => [neg(g, g.mul(dy, g.sin(node.inputs[0])))];

/** softplus' = sigmoid(x). */
const Softplus: GradRule = ({ g, node, dy }) => [g.mul(dy, g.sigmoid(node.inputs[0]))];

/** erf'(x) = 2/√π · exp(−x²). */
const Erf: GradRule = ({ g, node, dy }) => {
  const x = node.inputs[0];
  const e = g.op('Exp', [neg(g, g.mul(x, x))], {}, g.shape(x));
  return [g.mul(dy, g.mul(e, g.constFloat([2 / Math.sqrt(Math.PI)], [])))];
};

/** exp' = y, from the output. */
const Exp: GradRule = ({ g, node, dy }) => [g.mul(dy, node.outputs[0])];
const Log: GradRule = ({ g, node, dy }) => [g.div(dy, node.inputs[0])];
/** sqrt' = 1 / (2 y). */
const Sqrt: GradRule = ({ g, node, dy }) => [g.div(dy, g.mul(node.outputs[0], g.constFloat([2], [])))];

export const ELEMENTWISE_RULES: Record<string, GradRule> = {
  Add,
  Sub,
  Mul,
  Div,
  Neg,
  Identity,
  Sigmoid,
  Tanh,
  Relu,
  Sin,
  Cos,
  Softplus,
  Erf,
  Exp,
  Log,
  Sqrt,
};
