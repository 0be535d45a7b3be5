import type { GraphPlan } from './graph.ts';

// The graph plan in four forms: readable text, JSON, Graphviz dot, Mermaid.
export const GRAPH_FORMATS = ['text', 'json', 'dot', 'mermaid'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export function renderGraph(plan: GraphPlan, format: GraphFormat): string {
  switch (format) {
    case 'text':
      return renderText(plan);
    case 'json':
      return JSON.stringify(plan, null, 2);
    case 'dot':
      return renderDot(plan);
    case 'mermaid':
      return renderMermaid(plan);
  }
}

function renderText(plan: GraphPlan): string {
  const width = Math.max(...plan.actors.map((a) => a.id.length));
  const lines = [`experiment ${plan.experiment}: ${plan.stages.length} stages, ${plan.actors.length} actors, ${plan.channels.length} channels`, '', 'stages, in order'];
  plan.stages.forEach((stage, i) => lines.push(`  ${i + 1}. ${stage.name.padEnd(9)} ${stage.actors.join(', ')}`));
  lines.push('', 'actors');
  for (const a of plan.actors) lines.push(`  ${a.id.padEnd(width)}  x${String(a.count).padEnd(3)} ${a.kind.padEnd(6)}  ${a.detail}`);
  lines.push('', 'channels');
  const from = Math.max(...plan.channels.map((c) => c.from.length));
  const to = Math.max(...plan.channels.map((c) => c.to.length));
  for (const c of plan.channels) lines.push(`  ${c.from.padEnd(from)} -> ${c.to.padEnd(to)}  ${c.carries}`);
  return lines.join('\n');
}

const label = (plan: GraphPlan, id: string) => {
  const a = plan.actors.find((actor) => actor.id === id)!;
  return a.count > 1 ? `${a.id} x${a.count}` : a.id;
};
const nodeId = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');

function renderDot(plan: GraphPlan): string {
  const lines = [`digraph ${JSON.stringify(plan.experiment)} {`, '  rankdir=LR;', '  node [shape=box];'];
  plan.stages.forEach((stage, i) => {
    lines.push(`  subgraph cluster_${i} {`, `    label=${JSON.stringify(`${i + 1}. ${stage.name}`)};`);
    for (const id of stage.actors) lines.push(`    ${nodeId(id)} [label=${JSON.stringify(label(plan, id))}];`);
    lines.push('  }');
  });
  for (const c of plan.channels) lines.push(`  ${nodeId(c.from)} -> ${nodeId(c.to)} [label=${JSON.stringify(c.carries)}];`);
  lines.push('}');
  return lines.join('\n');
}

function renderMermaid(plan: GraphPlan): string {
  const lines = ['flowchart LR'];
  plan.stages.forEach((stage, i) => {
    lines.push(`  subgraph stage${i + 1}["${i + 1}. ${stage.name}"]`);
    for (const id of stage.actors) lines.push(`    ${nodeId(id)}["${label(plan, id)}"]`);
    lines.push('  end');
  });
  for (const c of plan.channels) lines.push(`  ${nodeId(c.from)} -->|${c.carries}| ${nodeId(c.to)}`);
  return lines.join('\n');
}
