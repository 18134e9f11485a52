import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard';
import { ClientTokenVerifier } from './client-token';

@Module({ providers: [ApiKeyGuard, ClientTokenVerifier], exports: [ApiKeyGuard, ClientTokenVerifier] })
export class AuthModule {}
