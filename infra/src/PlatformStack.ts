import { Stack, Token, type StackProps } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { copilotAddon } from './repoPaths';

/** Options for {@link PlatformStack}. */
export interface PlatformStackProps extends StackProps {
  appName: string;
  envName: string;
  /** NAT gateways for the private subnets: 1 is cheapest, one per AZ survives an AZ outage. */
  natGateways: number;
}

/**
 * What Copilot's environment stack and its addon give: the VPC (public and private subnets in
 * two AZs), the ECS cluster, the security group every service task runs in, and the MSK
 * Serverless cluster from the same addon template (`copilot/environments/addons/msk-cluster.yml`).
 */
export class PlatformStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly cluster: ecs.Cluster;
  /** The security group of every service task; the only one the Kafka cluster accepts. */
  readonly servicesSecurityGroup: ec2.SecurityGroup;
  /** The cluster's SASL/IAM bootstrap brokers, from the addon's custom resource. */
  readonly kafkaBootstrapBrokers: string;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc });
    this.servicesSecurityGroup = new ec2.SecurityGroup(this, 'ServicesSecurityGroup', {
      vpc: this.vpc,
      description: `${props.appName}-${props.envName}: the service tasks`,
      allowAllOutbound: true,
    });

    const kafka = new CfnInclude(this, 'Kafka', {
      templateFile: copilotAddon('environments/addons/msk-cluster.yml'),
      parameters: {
        App: props.appName,
        Env: props.envName,
        VpcId: this.vpc.vpcId,
        PrivateSubnets: this.vpc.privateSubnets.map((subnet) => subnet.subnetId),
        EnvironmentSecurityGroup: this.servicesSecurityGroup.securityGroupId,
      },
    });
    this.kafkaBootstrapBrokers = Token.asString(kafka.getOutput('KafkaBootstrapBrokers').value);
  }
}
