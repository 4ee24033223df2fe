/** The small task of the `poolmap` workload, run by procq's Pool and by piscina (named export `square`). */
export function square(x: number): number {
  return x * x;
}
