/** The pipeline's `sampler` option, `inpaint` and `colorize`: wiring to src/samplers and image handling. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  PipelineImage,
  type PipelineStep,
  type ScoreSdeVePipeline,
  toClampedNHWC,
} from '../../src/pipelines/index.js';
import { Generator } from '../../src/random/index.js';
import { colorize, inpaint, runSampler } from '../../src/samplers/index.js';
import { Tensor } from '../../src/tensor.js';
import { fixturePipeline } from './helpers.js';

let pipe: ScoreSdeVePipeline;
before(async () => {
  pipe = await fixturePipeline('tiny-ncsnpp');
});
after(async () => {
  await pipe.release();
});

const gen = (seed: number) => new Generator().manualSeed(seed);
/** Default-scheduler settings as the pipeline passes them to the samplers. */
const SCHEDULER_SETTINGS = {
  sigmaMin: 0.01,
  sigmaMax: 1348,
  snr: 0.15,
  correctSteps: 1,
  samplingEps: 1e-5,
  numTrainTimesteps: 2000,
};

/** A 32×32 RGB test card: a gradient in R, a checkerboard in G, constant B. */
function testCard(): PipelineImage {
  const data = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const p = (y * 32 + x) * 3;
      data[p] = x * 8;
      data[p + 1] = (x + y) % 2 ? 255 : 0;
      data[p + 2] = 100;
    }
  }
  return new PipelineImage(32, 32, data);
}

describe('sampler option', () => {
  it("'pc' reproduces diffusers' loop bit for bit", async () => {
    const run = async (sampler?: 'pc') => {
      const steps: PipelineStep[] = [];
      const { images } = await pipe.call({
        numInferenceSteps: 3,
        batchSize: 2,
        generator: gen(4),
        outputType: 'np',
        sampler,
        onStep: (s) => steps.push(s),
      });
      return { images, steps };
    };
    const a = await run();
    const b = await run('pc');
    assert.deepEqual(b.images.data, a.images.data);
    assert.equal(b.steps.length, 3);
    b.steps.forEach((s, i) => {
      assert.deepEqual(s.sampleMean.data, a.steps[i].sampleMean.data);
      assert.equal(s.nfe, 2 * (i + 1));
    });
  });

  it("'heun' runs the samplers' Heun with the scheduler's σ range", async () => {
    const steps: PipelineStep[] = [];
    const { images } = await pipe.call({
      sampler: 'heun',
      numInferenceSteps: 3,
      generator: gen(5),
      outputType: 'np',
      samplerOptions: { rho: 5 },
      onStep: (s) => steps.push(s),
    });
    const direct = await runSampler(
      'heun',
      pipe.scoreFn,
      { ...SCHEDULER_SETTINGS, steps: 3, rho: 5, shape: [1, 3, 32, 32] },
      { generator: gen(5) },
    );
    assert.equal(direct.nfe, 5); // 2·steps − 1
    assert.deepEqual(images.data, toClampedNHWC(direct.sample).data);
    assert.equal(steps.at(-1)!.nfe, 5);
  });

  it('rejects unknown samplers', async () => {
    await assert.rejects(
      pipe.call({ sampler: 'ddim' as 'pc' }),
      /unknown sampler "ddim"; known: pc, ode, heun, dpmpp-2m/,
    );
  });
});

describe('inpaint', () => {
  it('keeps the black part of the mask exactly and matches the samplers’ inpaint', async () => {
    const card = testCard();
    // diffusers' convention: white = repaint. Repaint the left half.
    const maskData = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 16; x++) maskData.fill(255, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
    const mask = new PipelineImage(32, 32, maskData);

    const { images } = await pipe.inpaint({ image: card, mask, numInferenceSteps: 3, generator: gen(6) });
    assert.equal(images.length, 1);
    for (let y = 0; y < 32; y++) {
      for (let x = 16; x < 32; x++) {
        const p = (y * 32 + x) * 3;
        assert.deepEqual(
          [...images[0].data.subarray(p, p + 3)],
          [...card.data.subarray(p, p + 3)],
          `pixel ${x},${y}`,
        );
      }
    }
    // Same as calling the sampler directly with a keep-mask (1 = keep) and the card as floats.
    const image = new Tensor('float32', new Float32Array(3 * 1024), [1, 3, 32, 32]);
    const keep = new Tensor('float32', new Float32Array(1024), [1, 1, 32, 32]);
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) image.data[c * 1024 + p] = card.data[p * 3 + c] / 255;
      keep.data[p] = p % 32 >= 16 ? 1 : 0;
    }
    const direct = await inpaint(
      pipe.scoreFn,
      { ...SCHEDULER_SETTINGS, steps: 3, image, mask: keep },
      { generator: gen(6) },
    );
    const np = await pipe.inpaint({
      image: card,
      mask,
      numInferenceSteps: 3,
      generator: gen(6),
      outputType: 'np',
    });
    assert.deepEqual(np.images.data, toClampedNHWC(direct.sample).data);
  });

  it('repeats one image for batchSize and checks sizes', async () => {
    const card = testCard();
    const black = new PipelineImage(32, 32, new Uint8Array(32 * 32 * 3));
    const [images] = await pipe.inpaint({
      image: card,
      mask: black,
      batchSize: 2,
      numInferenceSteps: 2,
      generator: gen(1),
      returnDict: false,
    });
    // An all-black mask keeps everything.
    assert.equal(images.length, 2);
    for (const im of images) assert.deepEqual(im.data, card.data);
    const small = new PipelineImage(16, 16, new Uint8Array(16 * 16 * 3));
    await assert.rejects(
      pipe.inpaint({ image: small, mask: black }),
      /image is 16×16, but the model generates 32×32 images/,
    );
  });
});

describe('colorize', () => {
  it('matches the samplers’ colorize on the channel-mean gray image', async () => {
    const card = testCard();
    const { images } = await pipe.colorize({
      image: card,
      numInferenceSteps: 3,
      generator: gen(7),
      outputType: 'np',
    });
    const gray = new Tensor('float32', new Float32Array(3 * 1024), [1, 3, 32, 32]);
    for (let p = 0; p < 1024; p++)
      for (let c = 0; c < 3; c++) gray.data[c * 1024 + p] = card.data[p * 3 + c] / 255;
    const direct = await colorize(
      pipe.scoreFn,
      { ...SCHEDULER_SETTINGS, steps: 3, grayImage: gray },
      { generator: gen(7) },
    );
    assert.deepEqual(images.dims, [1, 32, 32, 3]);
    assert.deepEqual(images.data, toClampedNHWC(direct.sample).data);
  });
});
