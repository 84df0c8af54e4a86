import type { App, Environment } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { AddonStack } from './AddonStack';
import { PlatformStack } from './PlatformStack';
import { repoRoot } from './repoPaths';
import { ServicesStack, type ServiceName } from './ServicesStack';

/** Options for {@link createOutboxStacks}. */
export interface OutboxStacksOptions {
  /** Application name, the `App` of the addon templates (default `outbox`). */
  appName?: string;
  /** Environment name, the `Env` of the addon templates (default `test`). */
  envName?: string;
  /** Account and region; unset, the stacks are environment-agnostic. */
  env?: Environment;
  /** NAT gateways of the VPC (default 1). */
  natGateways?: number;
  /** Tasks per service (default 2 each: the relay runs a leader and a standby). */
  desiredCounts?: Partial<Record<ServiceName, number>>;
  /** The image of each service (default: built from the repo's Dockerfile by `cdk deploy`). */
  image?: (service: ServiceName) => ecs.ContainerImage;
  /** ACM certificate ARN for HTTPS on the load balancer. */
  certificateArn?: string;
}

/** The stacks of one environment, in deployment order. */
export interface OutboxStacks {
  platform: PlatformStack;
  ordersAddons: AddonStack;
  relayAddons: AddonStack;
  notifierAddons: AddonStack;
  services: ServicesStack;
}

/** Builds each service's image from the repo's one Dockerfile (docker runs at `cdk deploy`). */
function dockerfileImage(service: ServiceName): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(repoRoot, {
    file: 'Dockerfile',
    buildArgs: { SERVICE: service },
    platform: Platform.LINUX_AMD64,
  });
}

/**
 * The outbox pipeline of one environment as CDK stacks, named `<app>-<env>-<part>`: the platform
 * (VPC, ECS cluster, MSK Serverless), each service's Copilot addons (tables and policies, the same
 * templates Copilot deploys), and the three Fargate services.
 */
export function createOutboxStacks(app: App, options: OutboxStacksOptions = {}): OutboxStacks {
  const appName = options.appName ?? 'outbox';
  const envName = options.envName ?? 'test';
  const prefix = `${appName}-${envName}`;
  const base = { appName, envName, env: options.env };

  const platform = new PlatformStack(app, `${prefix}-platform`, { ...base, natGateways: options.natGateways ?? 1 });
  const addons = (service: ServiceName, templates: string[]) =>
    new AddonStack(app, `${prefix}-${service}-addons`, {
      ...base,
      serviceName: service,
      templates: templates.map((template) => `${service}/addons/${template}`),
    });
  const ordersAddons = addons('order-api', ['orders-tables.yml']);
  const relayAddons = addons('outbox-relay', ['relay-tables.yml', 'kafka-access.yml']);
  const notifierAddons = addons('notifier', ['notifications-tables.yml', 'kafka-access.yml']);
  // The addons import exports by name (Fn::ImportValue), which CDK cannot see: order them by hand.
  relayAddons.addStackDependency(ordersAddons);
  relayAddons.addStackDependency(platform);
  notifierAddons.addStackDependency(platform);

  const services = new ServicesStack(app, `${prefix}-services`, {
    ...base,
    platform,
    ordersAddons,
    relayAddons,
    notifierAddons,
    image: options.image ?? dockerfileImage,
    desiredCounts: { 'order-api': 2, 'outbox-relay': 2, notifier: 2, ...options.desiredCounts },
    certificateArn: options.certificateArn,
  });
  return { platform, ordersAddons, relayAddons, notifierAddons, services };
}
