import path from 'node:path';
import { Stack, Token, type StackProps } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import type { Construct } from 'constructs';
import { copilotAddon } from './repoPaths';

/** Options for {@link AddonStack}. */
export interface AddonStackProps extends StackProps {
  appName: string;
  envName: string;
  /** The Copilot service the addons belong to (their `Name` parameter). */
  serviceName: string;
  /** Addon templates under `copilot/`, e.g. `order-api/addons/orders-tables.yml`. */
  templates: string[];
}

/**
 * One service's Copilot addon templates (its tables, policies and exports), included unchanged:
 * the tables are defined once, for Copilot, this app and the local stack.
 */
export class AddonStack extends Stack {
  private readonly includes: CfnInclude[];

  constructor(scope: Construct, id: string, props: AddonStackProps) {
    super(scope, id, props);
    this.includes = props.templates.map(
      (template) =>
        new CfnInclude(this, path.basename(template, path.extname(template)), {
          templateFile: copilotAddon(template),
          parameters: { App: props.appName, Env: props.envName, Name: props.serviceName },
        }),
    );
  }

  /** The value of an addon output (a table name, a policy ARN). */
  output(name: string): string {
    // CfnInclude puts each template output under its `$Outputs` scope, named by logical id.
    const include = this.includes.find((candidate) => candidate.node.tryFindChild('$Outputs')?.node.tryFindChild(name));
    if (!include) throw new Error(`${this.stackName}: no addon template has the output ${name}`);
    return Token.asString(include.getOutput(name).value);
  }
}
