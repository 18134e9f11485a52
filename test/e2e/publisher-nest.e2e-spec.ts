import { Inject, Injectable, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HeraldModule, HeraldPublisher } from '../../publisher/src/nest';
import { startApp, TEST_API_KEY, TestApp } from '../support/app';
import { aToken, aUserId, connect, TestClient } from '../support/client';

/** A service of the backend, in a feature module that does not import HeraldModule (it is global). */
@Injectable()
class OrderNotifier {
  constructor(@Inject(HeraldPublisher) private readonly herald: HeraldPublisher) {}

  shipped(userId: string, orderId: number) {
    return this.herald.notify({ users: [userId], type: 'order.shipped', payload: { orderId } });
  }
}

@Module({ providers: [OrderNotifier], exports: [OrderNotifier] })
class OrdersModule {}

/** Stands in for @nestjs/config's ConfigService: settings read from a provider of another module. */
@Injectable()
class ConfigService {
  constructor(private readonly values: Record<string, string>) {}

  getOrThrow(name: string): string {
    const value = this.values[name];
    if (value === undefined) throw new Error(`${name} is not set`);
    return value;
  }
}

const configModule = (values: Record<string, string>): DynamicModule => ({
  module: class ConfigModule {},
  providers: [{ provide: ConfigService, useValue: new ConfigService(values) }],
  exports: [ConfigService],
});

const appModule = (herald: DynamicModule): DynamicModule => ({
  module: class AppModule {},
  imports: [herald, OrdersModule],
});

/** A Nest backend (an application context, no HTTP server of its own) publishing to a spawned Herald. */
describe(HeraldModule.name, () => {
  let herald: TestApp;
  let backend: INestApplicationContext | undefined;
  let client: TestClient | undefined;

  beforeAll(async () => {
    herald = await startApp();
  });

  afterEach(async () => {
    await backend?.close();
    backend = undefined;
    await client?.close();
    client = undefined;
  });

  afterAll(async () => {
    await herald?.stop();
  });

  /** Boots the backend, publishes through its OrderNotifier, and checks the connected user got it once. */
  async function publishesThrough(module: DynamicModule): Promise<void> {
    const userId = aUserId('nest');
    client = await connect(herald, aToken({ sub: userId }));
    backend = await NestFactory.createApplicationContext(module, { logger: false });

    const result = await backend.get(OrderNotifier).shipped(userId, 42);

    const [received] = await client.waitForNotifications(1);
    expect(received).toMatchObject({ id: result.id, type: 'order.shipped', payload: { orderId: 42 } });
    expect(backend.get(HeraldPublisher)).toBeInstanceOf(HeraldPublisher);
  }

  it('forRoot({ url, apiKey }) provides a HeraldPublisher that publishes', async () => {
    await publishesThrough(appModule(HeraldModule.forRoot({ url: herald.url, apiKey: TEST_API_KEY })));
  });

  it('forRootAsync builds the publisher from an injected ConfigService', async () => {
    await publishesThrough(
      appModule(
        HeraldModule.forRootAsync({
          imports: [configModule({ HERALD_URL: herald.url, HERALD_API_KEY: TEST_API_KEY })],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            url: config.getOrThrow('HERALD_URL'),
            apiKey: config.getOrThrow('HERALD_API_KEY'),
          }),
        }),
      ),
    );
  });

  it('refuses to boot with options the publisher cannot use, naming the problem', async () => {
    await expect(
      NestFactory.createApplicationContext(
        appModule(HeraldModule.forRoot({ url: 'herald:3000', apiKey: 'k' })),
        {
          logger: false,
          abortOnError: false,
        },
      ),
    ).rejects.toThrow('url must be http(s)://…, not herald:3000');
  });
});
