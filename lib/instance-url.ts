/**
 * Builds a node's URL from its EC2 instance with a template (`WORKER_URL_TEMPLATE`, `PRIMARY_URL_TEMPLATE`).
 *
 * @module
 */
import type { InstanceView } from './aws/ec2.ts';
import { ValidationError } from './errors.ts';

/**
 * Fills a URL template from an instance: `{privateIp}` and `{tag:<Key>}`. Pure.
 * @example instanceUrl('http://{privateIp}:8080', instance) // 'http://10.0.3.17:8080'
 * @throws ValidationError when a placeholder has no value (no private IP, missing tag) or the result is not a URL.
 */
export function instanceUrl(template: string, instance: InstanceView): string {
  const url = template.replace(/\{(privateIp|tag:[^}]+)\}/g, (_, key: string) => {
    const value = key === 'privateIp' ? instance.privateIpAddress : instance.tags[key.slice('tag:'.length)];
    if (value === undefined) {
      throw new ValidationError(
        `Instance ${instance.instanceId} has no value for {${key}} in the URL template`,
        {
          context: { instanceId: instance.instanceId, placeholder: key },
        },
      );
    }
    return value;
  });
  if (!URL.canParse(url)) {
    throw new ValidationError(`URL template produced "${url}", which is not a URL`, {
      context: { instanceId: instance.instanceId },
    });
  }
  return url;
}
