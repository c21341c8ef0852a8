// What Azure ML requires of a user-assigned identity that managed online endpoints run as: pull the
// workspace's images (AcrPull on its container registry, once the workspace has one) and read its
// default storage (Storage Blob Data Reader), where the workspace keeps the scoring code. Deployed
// into the resource group of the workspace's storage account (main.bicep); the registry is taken
// to be in the same resource group, as Azure ML creates it.

@description('The endpoints identity principal.')
param principalId string

@description('The workspace default storage account (resource ID).')
param workspaceStorageId string

@description('The workspace container registry (resource ID), empty until the workspace has built an image.')
param workspaceRegistryId string = ''

var blobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: last(split(workspaceStorageId, '/'))
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (!empty(workspaceRegistryId)) {
  name: last(split(workspaceRegistryId, '/'))
}

resource readsWorkspaceStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: workspaceStorage
  name: guid(workspaceStorageId, principalId, blobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource pullsImages 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(workspaceRegistryId)) {
  scope: registry
  name: guid(workspaceRegistryId, principalId, acrPull)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
