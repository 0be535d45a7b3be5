// The shape of a Llama-family decoder-only transformer.

export interface ModelConfig {
  vocabSize: number;
  layers: number;
  dim: number;
  heads: number;
  ffnHidden: number; // SwiGLU hidden size
  context: number; // longest sequence the model is trained and sampled on
  tiedEmbeddings: boolean; // the LM head reuses the token embedding
  ropeTheta: number;
  normEps: number;
}

/** The fields that have no default; the rest follow Llama's conventions. */
export type ModelShape = Pick<ModelConfig, 'vocabSize' | 'layers' | 'dim' | 'heads' | 'context'> & Partial<ModelConfig>;

/** A validated config; ffnHidden defaults to Llama's 8/3 * dim, rounded up to a multiple of 32. */
export function modelConfig(shape: ModelShape): ModelConfig {
  const config: ModelConfig = {
    ffnHidden: 32 * Math.ceil((8 * shape.dim) / 3 / 32),
    tiedEmbeddings: false,
    ropeTheta: 10000,
    normEps: 1e-5,
    ...shape,
  };
  validateModelConfig(config);
  return config;
}

/** Throws an Error naming every field that is out of range. */
export function validateModelConfig(config: ModelConfig): void {
  const problems: string[] = [];
  for (const field of ['vocabSize', 'layers', 'dim', 'heads', 'ffnHidden', 'context'] as const) {
    const value = config[field];
    if (!Number.isInteger(value) || value < 1) problems.push(`${field} must be a positive integer, got ${value}`);
  }
  if (Number.isInteger(config.dim) && Number.isInteger(config.heads) && config.heads > 0) {
    const headSize = config.dim / config.heads;
    if (!Number.isInteger(headSize)) problems.push(`dim ${config.dim} must be a multiple of heads ${config.heads}`);
    else if (headSize % 2 !== 0) problems.push(`head size dim/heads = ${headSize} must be even for rotary embeddings`);
  }
  if (typeof config.tiedEmbeddings !== 'boolean') problems.push(`tiedEmbeddings must be true or false`);
  if (!(config.ropeTheta > 1)) problems.push(`ropeTheta must be greater than 1, got ${config.ropeTheta}`);
  if (!(config.normEps > 0)) problems.push(`normEps must be positive, got ${config.normEps}`);
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join('; ')}`);
}

/** Size of one attention head. */
export function headSize(config: ModelConfig): number {
  return config.dim / config.heads;
}
