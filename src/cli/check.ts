import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkFile } from '../../dsl/check.ts';
import { diagnosticToJson, renderDiagnostic, type DiagnosticJson } from '../../dsl/diagnostics.ts';
import type { ExperimentIR } from '../../dsl/ir.ts';
import { CheckpointError } from '../checkpoint/error.ts';
import { checkHfFolder, type HfFolderSummary } from '../hf/check.ts';
import { HF_FILES, readHfFolder } from '../hf/folder.ts';
import { loadChatTemplate } from '../tokenizer/chat-template.ts';
import { loadTokenizer } from '../tokenizer/tokenizer-json.ts';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, type Command } from './io.ts';
import { parseOptions, SET_OPTION } from './options.ts';

const usage = `usage: rpt check <files or folders...> [--json] [--ir] [--set path=value]...

Checks experiment files: syntax, schema (types, units, ranges) and the checks across the file.
A folder is checked as a Hugging Face model folder: every file the model needs, its
architecture and every tensor's shape against config.json, the tokenizer and chat template;
a valid one gets a summary (architecture, sizes, vocabulary, dtypes, shards, context).
Exit status 0 when every file and folder is valid, 1 when any is not.
  --json              print {"valid": ..., "files": [{"file", "valid", "diagnostics"}]} on stdout
                      (a folder's entry also holds "huggingface": its summary)
  --ir                print the validated IR of each file as JSON (defaults filled in)
  --set path=value    override an entry of each experiment file before checking, e.g. --set learner.lr=3e-4`;

interface Checked {
  file: string;
  ir: ExperimentIR | null; // an experiment file's
  rendered: string[]; // its errors, as printed
  diagnostics: DiagnosticJson[];
  folder?: HfFolderSummary; // a valid Hugging Face folder's summary
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate experiment files and Hugging Face model folders, reporting every error',
  usage,
  async run(args, io) {
    const parsed = parseOptions(args, { json: { type: 'boolean' }, ir: { type: 'boolean' }, ...SET_OPTION });
    if ('error' in parsed || parsed.positionals.length === 0) {
      io.err(`${'error' in parsed ? `rpt check: ${parsed.error}\n` : ''}${usage}`);
      return EXIT_USAGE;
    }
    const overrides = (parsed.values.set as string[] | undefined) ?? [];
    const results: Checked[] = [];
    for (const file of parsed.positionals) {
      // A folder is a Hugging Face model's; anything else, an experiment file.
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
        results.push(await checkFolder(file));
      } else {
        const checked = checkFile(file, { overrides });
        results.push({ file, ir: checked.ir, rendered: checked.diagnostics.map(renderDiagnostic), diagnostics: checked.diagnostics.map(diagnosticToJson) });
      }
    }
    const isValid = (r: Checked) => r.ir !== null || r.folder !== undefined;
    const valid = results.every(isValid);
    if (parsed.values.json) {
      const files = results.map((r) => ({
        file: r.file,
        valid: isValid(r),
        diagnostics: r.diagnostics,
        ...(parsed.values.ir && r.folder === undefined ? { ir: r.ir } : {}),
        ...(r.folder ? { huggingface: summaryJson(r.folder) } : {}),
      }));
      io.out(JSON.stringify({ valid, files }, null, 2));
    } else {
      for (const r of results) {
        for (const d of r.rendered) io.err(`${d}\n`);
        if (r.folder) io.out(`${r.file}: ok: ${describeHfFolder(r.folder)}`);
        else if (r.ir && parsed.values.ir) io.out(JSON.stringify(r.ir, null, 2));
        else if (r.ir) io.out(`${r.file}: ok`);
      }
      const errors = results.reduce((n, r) => n + r.diagnostics.length, 0);
      if (!valid) io.err(`${errors} error${errors === 1 ? '' : 's'} in ${results.filter((r) => !isValid(r)).length} of ${results.length} file${results.length === 1 ? '' : 's'}`);
    }
    return valid ? EXIT_OK : EXIT_INVALID;
  },
};

/**
 * A Hugging Face folder: checkHfFolder (files, architecture, every tensor's shape), then what
 * `rpt sample` and a run would load besides: the tokenizer and the chat template.
 */
async function checkFolder(dir: string): Promise<Checked> {
  try {
    if (!existsSync(join(dir, HF_FILES.config))) throw new CheckpointError(dir, `not a Hugging Face model folder: it has no ${HF_FILES.config}`);
    const summary = checkHfFolder(dir);
    const folder = readHfFolder(dir);
    await loadTokenizer(folder.tokenizerPath, { forModel: true });
    if (folder.tokenizer.chatTemplate !== undefined) await loadChatTemplate(join(dir, HF_FILES.tokenizerConfig));
    return { file: dir, ir: null, rendered: [], diagnostics: [], folder: summary };
  } catch (error) {
    // The message starts with the path at fault (a CheckpointError's always does).
    const message = (error as Error).message;
    const path = error instanceof CheckpointError ? error.path : /^([^:]+): /.exec(message)?.[1] ?? dir;
    const problem = message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
    const json: DiagnosticJson = { file: path, line: null, column: null, endLine: null, endColumn: null, severity: 'error', message: problem, expected: null, hint: null };
    return { file: dir, ir: null, rendered: [`${path}: error: ${problem}`], diagnostics: [json] };
  }
}

/** One paragraph: the architecture and its sizes, vocabulary, storage and context. */
export function describeHfFolder(summary: HfFolderSummary): string {
  const { config } = summary;
  const shards = summary.shards.length === 1 ? `1 shard (${summary.shards[0]})` : `${summary.shards.length} shards`;
  return [
    `${summary.architecture} with ${formatCount(summary.parameters)} parameters${config.tiedEmbeddings ? ' (tied embeddings)' : ''}:`,
    `${config.layers} layers, hidden ${config.dim}, ${config.heads} heads, ${config.kvHeads} key/value heads, head_dim ${config.headDim}, ffn ${config.ffnHidden}${config.qkvBias ? ', q/k/v biases' : ''}${config.qkNorm ? ', q/k norm' : ''};`,
    `vocab ${config.vocabSize}, tokenizer ${summary.tokenizerSize} tokens;`,
    `weights ${summary.dtypes.join(', ')} in ${shards};`,
    `context ${config.context} tokens, rope_theta ${config.ropeTheta}, rms_norm_eps ${config.normEps < 1e-3 ? config.normEps.toExponential() : config.normEps}`,
  ].join(' ');
}

function summaryJson(summary: HfFolderSummary): Record<string, unknown> {
  const { config } = summary;
  return {
    architecture: summary.architecture,
    parameters: summary.parameters,
    layers: config.layers,
    hidden_size: config.dim,
    heads: config.heads,
    kv_heads: config.kvHeads,
    head_dim: config.headDim,
    intermediate_size: config.ffnHidden,
    vocab_size: config.vocabSize,
    tokenizer_size: summary.tokenizerSize,
    tied_embeddings: config.tiedEmbeddings,
    dtypes: summary.dtypes,
    shards: summary.shards,
    context: config.context,
    rope_theta: config.ropeTheta,
    rms_norm_eps: config.normEps,
  };
}

/** 134515008 as "134,515,008 (134.5M)"; small counts as they are. */
function formatCount(n: number): string {
  const exact = n.toLocaleString('en-US');
  if (n >= 1e9) return `${exact} (${(n / 1e9).toFixed(2)}B)`;
  if (n >= 1e6) return `${exact} (${(n / 1e6).toFixed(1)}M)`;
  return exact;
}
