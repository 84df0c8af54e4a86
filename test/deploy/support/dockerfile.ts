import fs from 'node:fs';

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** One build stage: its FROM, its name, and its instructions after FROM. */
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** A parsed Dockerfile: the ARGs before the first FROM, and the stages in order. */
export interface ParsedDockerfile {
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

/** Parses the subset of Dockerfile syntax the repo's Dockerfile uses (no heredocs). */
export function parseDockerfile(file: string): ParsedDockerfile {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (pending === undefined && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending !== undefined && trimmed.startsWith('#')) return;
    const text = trimmed.endsWith('\\') ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { text: `${pending.text} ${text}`, line: pending.line } : { text, line: index + 1 };
    if (!trimmed.endsWith('\\')) {
      const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
      instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
      pending = undefined;
    }
  });

  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ from: match[1]!, name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may precede FROM`);
      const [name, value] = instruction.args.split(/=(.*)/s);
      globalArgs.set(name!, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** The stage called `name`; throws when the Dockerfile has none. */
export function stageNamed(dockerfile: ParsedDockerfile, name: string): Stage {
  const stage = dockerfile.stages.find((candidate) => candidate.name === name);
  if (!stage) throw new Error(`the Dockerfile has no stage named ${name}`);
  return stage;
}

/** A COPY's flags (`--from=deps`), sources and destination. */
export function copyParts(instruction: Instruction): { from?: string; sources: string[]; destination: string } {
  const words = instruction.args.split(/\s+/);
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** Replaces `${NAME}` and `$NAME` by the given build arguments. */
export function substitute(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    return name in args ? args[name]! : whole;
  });
}
