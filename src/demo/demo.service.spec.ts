import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ClientTokenVerifier } from '../auth/client-token';
import { loadConfig } from '../config/app-config';
import { PublishService } from '../publish/publish.service';
import { DemoAssets } from './demo-assets';
import { DemoController, DemoHomeController } from './demo.controller';
import { DemoService } from './demo.service';

const config = loadConfig({});

describe(DemoService.name, () => {
  const publisher = { publish: jest.fn() };
  const sut = new DemoService(config, publisher as unknown as PublishService);

  it('mints a token the gateway accepts: that user, every topic, one hour', async () => {
    const minted = sut.mintToken('bob smith');
    const identity = await new ClientTokenVerifier(config).verify(minted.token);
    expect(identity.userId).toBe('bob smith');
    expect(identity.topics.allows('anything.at.all')).toBe(true);
    expect(identity.expiresAt - Date.now()).toBeGreaterThan(3590_000);
    expect(identity.expiresAt - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(minted).toEqual({
      token: minted.token,
      userId: 'bob smith',
      expiresAt: new Date(identity.expiresAt).toISOString(),
    });
  });

  it('publishes through PublishService, in-process', async () => {
    const result = { id: 'id-1', deliveries: [{ channel: 'user:bob', offset: 1, epoch: 'e' }] };
    publisher.publish.mockResolvedValueOnce(result);
    const request = { users: ['bob'], type: 'greeting', payload: { text: 'hi' } };
    await expect(sut.publish(request)).resolves.toBe(result);
    expect(publisher.publish).toHaveBeenCalledWith(request);
  });
});

describe(DemoController.name, () => {
  it('stays out of the OpenAPI document', async () => {
    @Module({
      controllers: [DemoController, DemoHomeController],
      providers: [DemoAssets, { provide: DemoService, useValue: {} }],
    })
    class DemoRoutesOnly {}
    const app = await NestFactory.create(DemoRoutesOnly, new FastifyAdapter(), { logger: false });
    try {
      const document = SwaggerModule.createDocument(app, new DocumentBuilder().build());
      expect(Object.keys(document.paths)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
