import fs from 'node:fs';
import { parse, type CollectionTag, type ScalarTag } from 'yaml';

/** A CloudFormation template as plain JSON (short forms turned into their long forms). */
export type Template = {
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Mappings?: Record<string, Record<string, Record<string, string>>>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
};

const SHORT_FORMS = ['Base64', 'Cidr', 'FindInMap', 'GetAZs', 'If', 'ImportValue', 'Join', 'Select', 'Split', 'Sub'];

/** YAML tags for `!Ref`, `!GetAtt` and the `!Fn` short forms, in scalar and collection position. */
function cloudFormationTags(): (ScalarTag | CollectionTag)[] {
  const tags: (ScalarTag | CollectionTag)[] = [];
  const add = (tag: string, key: string, scalar: (value: string) => unknown = (value) => value) => {
    tags.push({ tag: `!${tag}`, resolve: (value: string) => ({ [key]: scalar(value) }) });
    for (const collection of ['seq', 'map'] as const) {
      tags.push({ tag: `!${tag}`, collection, resolve: (value) => ({ [key]: value.toJSON() }) });
    }
  };
  add('Ref', 'Ref');
  add('GetAtt', 'Fn::GetAtt', (value) => value.split(/\.(.*)/s).filter((part) => part !== ''));
  for (const name of SHORT_FORMS) add(name, `Fn::${name}`);
  return tags;
}

/** Reads a YAML CloudFormation template (or Copilot's addons.parameters.yml). */
export function readTemplate(file: string): Template {
  return parse(fs.readFileSync(file, 'utf8'), { customTags: cloudFormationTags() }) as Template;
}

/** Every IAM policy statement of the template's managed policies and roles. */
export function policyStatements(template: Template): { resource: string; statement: Record<string, unknown> }[] {
  const statements: { resource: string; statement: Record<string, unknown> }[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const documents: unknown[] = [];
    if (resource.Type === 'AWS::IAM::ManagedPolicy' || resource.Type === 'AWS::IAM::Policy') {
      documents.push(resource.Properties?.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      for (const statement of (document as { Statement: Record<string, unknown>[] }).Statement) {
        statements.push({ resource: id, statement });
      }
    }
  }
  return statements;
}

/** A statement's actions (or resources) as a list. */
export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}
