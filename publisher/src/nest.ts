/**
 * The NestJS module of `@herald/publisher` (its own entry point, so that services without Nest never
 * load `@nestjs/common`, an optional peer dependency):
 *
 *   imports: [HeraldModule.forRoot({ url, apiKey })]
 *   constructor(private readonly herald: HeraldPublisher) {}
 *   await this.herald.notify({ users: [userId], type: 'order.shipped', payload });
 */
import { Module, type DynamicModule, type InjectionToken, type ModuleMetadata } from '@nestjs/common';
import { HeraldPublisher, type HeraldPublisherOptions } from './herald-publisher';

/** The options the module's HeraldPublisher is built from (inject it to read them). */
export const HERALD_PUBLISHER_OPTIONS = Symbol('HERALD_PUBLISHER_OPTIONS');

export interface HeraldModuleOptions extends HeraldPublisherOptions {
  /** Whether every module can inject HeraldPublisher without importing HeraldModule (default true). */
  isGlobal?: boolean;
}

export interface HeraldModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Builds the options from injected providers, e.g. `(config: ConfigService) => ({ url: config.get(…), … })`. */
  useFactory: (...args: never[]) => HeraldPublisherOptions | Promise<HeraldPublisherOptions>;
  inject?: InjectionToken[];
  isGlobal?: boolean;
}

/** Provides one HeraldPublisher, injected by its class. */
@Module({})
export class HeraldModule {
  static forRoot({ isGlobal = true, ...options }: HeraldModuleOptions): DynamicModule {
    return HeraldModule.with(isGlobal, [], { provide: HERALD_PUBLISHER_OPTIONS, useValue: options });
  }

  static forRootAsync({
    isGlobal = true,
    imports = [],
    useFactory,
    inject = [],
  }: HeraldModuleAsyncOptions): DynamicModule {
    return HeraldModule.with(isGlobal, imports, { provide: HERALD_PUBLISHER_OPTIONS, useFactory, inject });
  }

  private static with(
    isGlobal: boolean,
    imports: NonNullable<ModuleMetadata['imports']>,
    options: NonNullable<ModuleMetadata['providers']>[number],
  ): DynamicModule {
    return {
      module: HeraldModule,
      global: isGlobal,
      imports,
      providers: [
        options,
        {
          provide: HeraldPublisher,
          inject: [HERALD_PUBLISHER_OPTIONS],
          useFactory: (resolved: HeraldPublisherOptions) => new HeraldPublisher(resolved),
        },
      ],
      exports: [HeraldPublisher, HERALD_PUBLISHER_OPTIONS],
    };
  }
}

export { HeraldPublisher };
