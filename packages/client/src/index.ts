/** The ingest client: streams audio frames, keeps them until committed, resumes after a drop. */
export const PROTOCOL = 'ingest.v1';
