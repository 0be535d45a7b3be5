// The shape of a Llama-family decoder-only transformer, as Hugging Face's Llama, Qwen2 and Qwen3
// define it: grouped-query attention, a head size of its own, optional q/k/v biases (Qwen2) and
// optional per-head RMSNorm of the queries and keys (Qwen3).

export interface ModelConfig {
  vocabSize: number;
  layers: number;
  dim: number;
  heads: number;
  kvHeads: number; // key/value heads, each shared by heads / kvHeads query heads (grouped-query attention)
  headDim: number; // size of one head; dim / heads unless given
  ffnHidden: number; // SwiGLU hidden size
  context: number; // longest sequence the model is trained and sampled on
  tiedEmbeddings: boolean; // the LM head reuses the token embedding
  qkvBias: boolean; // the q, k and v projections have biases (Qwen2)
  qkNorm: boolean; // each head of q and k is RMSNorm-ed (weight [headDim]) before RoPE (Qwen3)
  ropeTheta: number;
  normEps: number;
}

/** The fields that have no default; the rest follow Llama's conventions. */
export type ModelShape = Pick<ModelConfig, 'vocabSize' | 'layers' | 'dim' | 'heads' | 'context'> & Partial<ModelConfig>;

/**
 * A validated config. Defaults: ffnHidden Llama's 8/3 * dim rounded up to a multiple of 32,
 * kvHeads = heads, headDim = dim / heads, no biases, no q/k norm, theta 1e4, eps 1e-5. Stored
 * configs that predate a field get its default here.
 */
export function modelConfig(shape: ModelShape): ModelConfig {
  const config: ModelConfig = {
    ffnHidden: 32 * Math.ceil((8 * shape.dim) / 3 / 32),
    kvHeads: shape.heads,
    headDim: shape.dim / shape.heads,
    tiedEmbeddings: false,
    qkvBias: false,
    qkNorm: false,
    ropeTheta: 10000,
    normEps: 1e-5,
    ...withoutUndefined(shape),
  };
  validateModelConfig(config);
  return config;
}

/** Throws an Error naming every field that is out of range. */
export function validateModelConfig(config: ModelConfig): void {
  const problems: string[] = [];
  for (const field of ['vocabSize', 'layers', 'dim', 'heads', 'kvHeads', 'ffnHidden', 'context'] as const) {
    const value = config[field];
    if (!Number.isInteger(value) || value < 1) problems.push(`${field} must be a positive integer, got ${value}`);
  }
  const { dim, heads, kvHeads, headDim } = config;
  if (Number.isInteger(heads) && Number.isInteger(kvHeads) && kvHeads > 0 && heads % kvHeads !== 0) {
    problems.push(`heads ${heads} must be a multiple of kvHeads ${kvHeads}`);
  }
  if (!Number.isInteger(headDim) || headDim < 1) {
    // a headDim that is not an integer but equals dim / heads is the default's
    problems.push(headDim === dim / heads ? `dim ${dim} must be a multiple of heads ${heads} (headDim defaults to dim/heads)` : `headDim must be a positive integer, got ${headDim}`);
  } else if (headDim % 2 !== 0) {
    problems.push(`headDim ${headDim} must be even for rotary embeddings`);
  }
  for (const field of ['tiedEmbeddings', 'qkvBias', 'qkNorm'] as const) {
    if (typeof config[field] !== 'boolean') problems.push(`${field} must be true or false`);
  }
  if (!(config.ropeTheta > 1)) problems.push(`ropeTheta must be greater than 1, got ${config.ropeTheta}`);
  if (!(config.normEps > 0)) problems.push(`normEps must be positive, got ${config.normEps}`);
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join('; ')}`);
}

/** Size of one attention head. */
export function headSize(config: ModelConfig): number {
  return config.headDim;
}

/** The shape's fields that are set: an explicit undefined takes the default rather than overriding it. */
function withoutUndefined(shape: ModelShape): ModelShape {
  return Object.fromEntries(Object.entries(shape).filter(([, value]) => value !== undefined)) as ModelShape;
}
