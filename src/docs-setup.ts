import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI for the REST API: Swagger UI at /docs, the document at /docs-json (for codegen). */
export function serveApiDocs(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Herald')
      .setDescription(
        'Push notifications: publish over REST, deliver over WebSocket (`GET /v1/ws`, see docs/PROTOCOL.md). ' +
          'Every error body is `{statusCode, error, message}`.',
      )
      .setVersion('1')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'a publisher API key (API_KEYS)' },
        'apiKey',
      )
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
