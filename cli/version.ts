/** The package version (`dyeline --version`, the default sidecar image tag of `inject`). */
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
