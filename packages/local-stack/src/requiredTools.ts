import { spawn } from 'node:child_process';

/** The message when `java` is missing or too old. */
export const JAVA_REQUIRED_MESSAGE =
  'Java 17 or later is required to run DynamoDB Local and Kafka: install a JDK (for example `apt-get install openjdk-17-jre-headless`) and make sure `java` is on PATH.';

/** The message when `mvn` is missing. */
export const MAVEN_REQUIRED_MESSAGE =
  'Maven is required to fetch the Kafka jars from Maven Central: install it (for example `apt-get install maven`) and make sure `mvn` is on PATH.';

interface CommandOutput {
  code: number | null;
  output: string;
}

function run(command: string, args: string[]): Promise<CommandOutput | undefined> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // ENOENT: the command is not on PATH.
    child.once('error', () => resolve(undefined));
    child.once('close', (code) => resolve({ code, output }));
  });
}

const checked = new Map<string, Promise<void>>();

/** The major version in `java -version` output: 17 for `"17.0.15"`, 8 for `"1.8.0_392"`. */
export function javaMajorVersion(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

/** Fails with {@link JAVA_REQUIRED_MESSAGE} unless `java -version` reports 17 or later. */
export function requireJava(): Promise<void> {
  let check = checked.get('java');
  if (!check) {
    check = run('java', ['-version']).then((result) => {
      const major = result?.code === 0 ? javaMajorVersion(result.output) : undefined;
      if (major === undefined || major < 17) throw new Error(JAVA_REQUIRED_MESSAGE);
    });
    check.catch(() => checked.delete('java'));
    checked.set('java', check);
  }
  return check;
}

/** Fails with {@link MAVEN_REQUIRED_MESSAGE} unless `mvn -v` runs. */
export function requireMaven(): Promise<void> {
  let check = checked.get('mvn');
  if (!check) {
    check = run('mvn', ['-v']).then((result) => {
      if (result?.code !== 0) throw new Error(MAVEN_REQUIRED_MESSAGE);
    });
    check.catch(() => checked.delete('mvn'));
    checked.set('mvn', check);
  }
  return check;
}
