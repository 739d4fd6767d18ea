export { RateLimitModule } from './rate-limit.module';
export { AdmissionGate, admissionMiddleware, clientAddress, presentedKeyHash } from './admission';
