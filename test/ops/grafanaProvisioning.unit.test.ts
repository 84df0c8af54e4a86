import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';

const root = join(__dirname, '..', '..');
const grafana = join(root, 'ops', 'grafana');

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
}

interface Dashboard {
  templating: { list: { name: string; type: string; query?: string; current?: { value?: string } }[] };
  panels: { title: string; datasource?: { type: string; uid: string } }[];
}

const datasources = (
  parse(readFileSync(join(grafana, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
    apiVersion: number;
    datasources: Datasource[];
  }
).datasources;
const providers = (
  parse(readFileSync(join(grafana, 'provisioning', 'dashboards', 'outbox.yml'), 'utf8')) as {
    apiVersion: number;
    providers: { name: string; type: string; options: { path: string } }[];
  }
).providers;
const dashboard = JSON.parse(readFileSync(join(grafana, 'outbox-dashboard.json'), 'utf8')) as Dashboard;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('the Grafana provisioning files', () => {
  test('When the dashboard is read, then every panel uses the provisioned Prometheus data source', () => {
    expect(datasources).toHaveLength(1);
    const [prometheus] = datasources;
    expect(prometheus).toMatchObject({ name: 'Prometheus', uid: 'prometheus', type: 'prometheus' });
    expect(prometheus!.url).toMatch(/:9090$/);

    const variables = new Map(dashboard.templating.list.map((variable) => [`\${${variable.name}}`, variable]));
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const panel of dashboard.panels) {
      expect({ panel: panel.title, type: panel.datasource?.type }).toEqual({ panel: panel.title, type: 'prometheus' });
      const uid = panel.datasource!.uid;
      const variable = variables.get(uid);
      if (variable) {
        // A data source variable: it lists data sources of the provisioned type and starts on this one.
        expect({
          panel: panel.title,
          type: variable.type,
          query: variable.query,
          current: variable.current?.value,
        }).toEqual({ panel: panel.title, type: 'datasource', query: prometheus!.type, current: prometheus!.uid });
      } else {
        expect({ panel: panel.title, uid }).toEqual({ panel: panel.title, uid: prometheus!.uid });
      }
    }
  });

  test('When the dashboard provider is read, then its folder is where the README mounts ops/grafana/outbox-dashboard.json', () => {
    expect(providers).toHaveLength(1);
    const [provider] = providers;
    expect(provider!.type).toBe('file');
    expect(existsSync(join(grafana, 'outbox-dashboard.json'))).toBe(true);

    // The README's `docker run` mounts the repo's files into the container; each mount source exists.
    const mounts = [...readme.matchAll(/-v "\$PWD\/([^":]+)":([^:\s"]+)(?::ro)?/g)].map(([, source, target]) => ({
      source: source!,
      target: target!,
    }));
    const dashboardMount = mounts.find((mount) => mount.source === 'ops/grafana/outbox-dashboard.json');
    expect(dashboardMount).toBeDefined();
    expect(posix.dirname(dashboardMount!.target)).toBe(provider!.options.path);
    const provisioningMount = mounts.find((mount) => mount.source === 'ops/grafana/provisioning');
    expect(provisioningMount?.target).toBe('/etc/grafana/provisioning');
    for (const mount of mounts)
      expect({ mount: mount.source, exists: existsSync(join(root, mount.source)) }).toEqual({
        mount: mount.source,
        exists: true,
      });
  });
});
