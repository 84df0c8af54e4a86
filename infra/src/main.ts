import { App } from 'aws-cdk-lib';
import { createOutboxStacks } from './createOutboxStacks';

// `cdk synth|deploy -c app=<name> -c env=<name> [-c certificateArn=arn:...] [-c natGateways=2]`
const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key) as string | undefined;
createOutboxStacks(app, {
  appName: context('app'),
  envName: context('env'),
  certificateArn: context('certificateArn'),
  natGateways: context('natGateways') === undefined ? undefined : Number(context('natGateways')),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
