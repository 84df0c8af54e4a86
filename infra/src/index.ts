export { AddonStack } from './AddonStack';
export type { AddonStackProps } from './AddonStack';
export { createOutboxStacks } from './createOutboxStacks';
export type { OutboxStacks, OutboxStacksOptions } from './createOutboxStacks';
export { deploymentSettings } from './deploymentSettings';
export { PlatformStack } from './PlatformStack';
export type { PlatformStackProps } from './PlatformStack';
export { ServicesStack } from './ServicesStack';
export type { ServiceName, ServicesStackProps } from './ServicesStack';
