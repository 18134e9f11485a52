import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsOptional,
  IsString,
  Length,
  Matches,
  registerDecorator,
  ValidationArguments,
} from 'class-validator';
import { NO_CONTROL_CHARS, TOPIC_NAME } from '../common/channel';

/** The property must be present in the body; any JSON value, `null` included, is accepted. */
function IsPresent(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isPresent',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        // JSON has no `undefined`: undefined means the property was absent.
        validate: (value: unknown) => value !== undefined,
        defaultMessage: (args: ValidationArguments) => `${args.property} is required (any JSON value)`,
      },
    });
}

export class PublishNotificationDto {
  @ApiPropertyOptional({
    type: [String],
    maxItems: 10000,
    example: ['alice'],
    description: 'user ids (1-200 chars, no control chars)',
  })
  // class-validator runs the decorators nearest the property first: the array check comes first.
  @IsOptional()
  @Matches(NO_CONTROL_CHARS, { each: true, message: 'users must not contain control characters' })
  @Length(1, 200, { each: true, message: 'each of users must be 1-200 characters' })
  @IsString({ each: true })
  @ArrayMaxSize(10000)
  @IsArray()
  users?: string[];

  @ApiPropertyOptional({
    type: [String],
    maxItems: 100,
    example: ['orders.42'],
    description: 'topic names ([A-Za-z0-9._:-], 1-200 chars)',
  })
  @IsOptional()
  @Matches(TOPIC_NAME, { each: true, message: 'each of topics must be 1-200 characters of [A-Za-z0-9._:-]' })
  @IsString({ each: true })
  @ArrayMaxSize(100)
  @IsArray()
  topics?: string[];

  @ApiPropertyOptional({ example: false, description: 'also deliver to every connection' })
  @IsOptional()
  @IsBoolean()
  broadcast?: boolean;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'order.shipped' })
  @Length(1, 100)
  @IsString()
  type!: string;

  @ApiProperty({ description: 'any JSON value, delivered as is', example: { orderId: 42 } })
  @IsPresent()
  payload!: unknown;
}
