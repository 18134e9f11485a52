import { ValidateBy } from 'class-validator';
import { isUserId, MAX_ID_LENGTH } from '../common/channel';

/** `GET /demo/token?user=<id>`. */
export class DemoTokenQuery {
  @ValidateBy({
    name: 'isUserId',
    validator: {
      validate: (value: unknown) => isUserId(value),
      defaultMessage: () =>
        `user must be a user id of 1-${MAX_ID_LENGTH} characters of well-formed Unicode without control characters (GET /demo/token?user=<id>)`,
    },
  })
  user!: string;
}
