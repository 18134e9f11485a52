import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard';
import { ClientRequestAuth } from './client-request';
import { ClientTokenVerifier } from './client-token';

@Module({
  providers: [ApiKeyGuard, ClientTokenVerifier, ClientRequestAuth],
  exports: [ApiKeyGuard, ClientTokenVerifier, ClientRequestAuth],
})
export class AuthModule {}
