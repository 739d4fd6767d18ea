import { Global, Module } from '@nestjs/common';
import { AppMetrics, appMetrics } from './app-metrics';

/**
 * The guide's counters and histograms as an injectable provider. Global, like the configuration:
 * every module records metrics, so an import of it would say nothing about a module's dependencies.
 * The provider hands out the process's one instance (instruments are created once per meter), which
 * code outside Nest's injection reaches through `appMetrics()`: the HTTP middleware, an Express
 * function installed by app.factory.ts around Nest's routing.
 */
@Global()
@Module({
  providers: [{ provide: AppMetrics, useFactory: appMetrics }],
  exports: [AppMetrics],
})
export class MetricsModule {}
