import path from 'node:path';
import { importProblems, readSources, type Layers } from './support/importGraph';

const repoRoot = path.join(__dirname, '..', '..');

/**
 * Each workspace's `src/`: the workspaces it may import, and for the services and shared the
 * layers of its folders, top first (composition root, then adapters, then the core, then what
 * everything uses). A folder imports only its own layer (one way) or lower ones.
 */
const WORKSPACES: Record<string, { allowedPackages: string[]; layers?: Layers }> = {
  'packages/shared': {
    allowedPackages: [],
    layers: [
      ['index'],
      ['config', 'deadLetter', 'http'],
      ['kafka', 'events', 'aws'],
      ['lifecycle'],
      ['observability'],
      ['errors', 'runtime'],
    ],
  },
  'packages/local-stack': { allowedPackages: ['@outbox/shared'] },
  'packages/testkit': { allowedPackages: ['@outbox/shared', '@outbox/local-stack'] },
  infra: { allowedPackages: [] },
  'services/order-api': {
    allowedPackages: ['@outbox/shared'],
    layers: [['main', 'instrumentation'], ['start'], ['config'], ['http', 'ops'], ['auth', 'data'], ['domain']],
  },
  'services/outbox-relay': {
    allowedPackages: ['@outbox/shared'],
    // publish/ is the Kafka adapter: it implements the core's interfaces (relay/), never the reverse.
    layers: [
      ['main', 'instrumentation'],
      ['start'],
      ['replay', 'setup'],
      ['config'],
      ['publish'],
      ['relay'],
      ['backfill', 'checkpoint'],
      ['source', 'lease'],
    ],
  },
  'services/notifier': {
    allowedPackages: ['@outbox/shared'],
    layers: [
      ['main', 'instrumentation'],
      ['start'],
      ['redrive'],
      ['config'],
      ['consume'],
      ['deadLetter', 'notify'],
      ['inbox'],
    ],
  },
};

describe('imports follow the layers', () => {
  test.each(Object.keys(WORKSPACES))(
    'When the imports of %s/src are read, then there is no cycle, no import of a higher layer and no other workspace beyond the allowed',
    (workspace) => {
      const sources = readSources(path.join(repoRoot, workspace, 'src'));
      expect(sources.size).toBeGreaterThan(0);
      expect(importProblems(sources, WORKSPACES[workspace])).toEqual([]);
    },
  );

  test('When a lower folder imports a higher one, two modules import each other, or a service imports another workspace, then each is named', () => {
    const files = new Map([
      ['http/authentication.ts', "import { missingToken } from '../auth/authErrors';"],
      ['auth/authErrors.ts', "import type { Problem } from '../http/problem';"],
      ['http/problem.ts', "import { AppError } from '@outbox/shared';"],
      ['inbox/Inbox.ts', "import type { Notification } from '../notify/render';"],
      ['notify/render.ts', "export { type Inbox } from '../inbox/Inbox';"],
      ['domain/a.ts', "import { b } from './b';"],
      ['domain/b.ts', "import { a } from './a'; import { kit } from '@outbox/testkit';"],
    ]);
    const problems = importProblems(files, {
      allowedPackages: ['@outbox/shared'],
      layers: [['http'], ['auth', 'notify'], ['inbox'], ['domain']],
    });
    expect(problems).toEqual([
      'domain/b.ts imports @outbox/testkit: not a package this workspace may use',
      'module cycle: domain/a.ts <-> domain/b.ts',
      'module cycle: inbox/Inbox.ts <-> notify/render.ts',
      'folder cycle: auth <-> http',
      'folder cycle: inbox <-> notify',
      'auth/authErrors.ts imports ../http/problem: http is a layer above auth',
      'inbox/Inbox.ts imports ../notify/render: notify is a layer above inbox',
    ]);
  });
});
