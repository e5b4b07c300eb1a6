import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineConfig } from '../config.ts';

/** Where an export went, as shown to people (never a key or a SAS token). */
export type ExportLocation = string;

/**
 * Writes an export file: to Azure Blob Storage when AZURE_STORAGE_CONNECTION_STRING and
 * AZURE_CONTAINER are set, else into EXPORT_DIR (through a temporary name, so a reader never sees
 * half a file).
 */
export async function writeExport(
  config: PipelineConfig,
  name: string,
  content: string,
  contentType: string,
): Promise<ExportLocation> {
  const azure = config.market?.azure;
  if (azure) {
    // The Azure SDK is large: loaded only when exports go to Blob Storage.
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const container = BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient(
      azure.container,
    );
    await container.createIfNotExists();
    const body = Buffer.from(content);
    await container
      .getBlockBlobClient(name)
      .upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType } });
    return `azure blob ${azure.container}/${name}`;
  }
  await mkdir(config.exportDir, { recursive: true });
  const path = join(config.exportDir, name);
  await writeFile(`${path}.partial`, content);
  await rename(`${path}.partial`, path);
  return path;
}
