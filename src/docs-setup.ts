import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { PUBLISH_OPERATION, PUBLISH_PATH } from './publish/publish.route';

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
  SwaggerModule.setup('docs', app, withSinglePublish(document), { jsonDocumentUrl: 'docs-json' });
}

/**
 * Nest documents its own routes only: the single publish (publish.route.ts, plain Fastify) goes in
 * by hand, where Nest listed it (before the batch publish).
 */
function withSinglePublish(document: OpenAPIObject): OpenAPIObject {
  const paths: OpenAPIObject['paths'] = {};
  for (const [path, item] of Object.entries(document.paths)) {
    if (path === `${PUBLISH_PATH}/batch`) paths[PUBLISH_PATH] = { post: PUBLISH_OPERATION };
    paths[path] = item;
  }
  paths[PUBLISH_PATH] ??= { post: PUBLISH_OPERATION };
  return { ...document, paths };
}
