// Skyloop on Azure: one Function App (Python v2 model) with a user-assigned managed identity,
// Event Grid for uploads, approvals and Skyloop's own events, a Storage Queue for remediation,
// Table Storage for state, Azure ML for the registry, endpoints and training, Durable Functions
// for the rollout. Build first: `python infra/azure/package.py`; then deploy this template and
// publish build/azure/app (README.md, "Deploy to Azure").

@description('Prefix of every resource name.')
@minLength(3)
@maxLength(11)
param name string = 'skyloop'

param location string = resourceGroup().location

@description('The Azure Machine Learning workspace (in this resource group) that holds the registry, endpoints and jobs.')
param mlWorkspaceName string

@description('The Azure ML environment that serves and trains, built from build/azure/environment (pinned to the functions model libraries).')
param servingEnvironment string = 'azureml:skyloop-serving@latest'

@description('The workspace datastore Skyloop creates on its datasets container: Azure ML reads datasets, code and models through it, each reader with its own identity (the account takes no shared keys, so a raw https URL gives Azure ML no way in).')
param mlDatastoreName string = 'skyloopdatasets'

@description('The Azure ML compute cluster that runs training jobs.')
param trainingCompute string = 'cpu-cluster'

@description('Services remediation acts on, by the name alerts use: {"api": {"resource_id": "...", "kind": "containerapp", "model_group": "churn"}}.')
param targets object = {}

@description('Create the Event Grid subscriptions to the functions. False on the first deployment: Event Grid validates a subscription against its function, which exists only once the code is published ("Destination endpoint not found"); deploy again with true after publishing (README.md, "Deploy to Azure").')
param subscribeEvents bool = false

var suffix = uniqueString(resourceGroup().id)
var storageName = toLower('${name}${suffix}')
var datasets = 'datasets'
var deadLetters = 'deadletters'
var remediationQueue = 'remediation'
var deadLetterQueue = 'skyloop-dead-letters'
var stateTable = 'skyloopstate'
var roles = {
  // read, write and delete blobs, and no more: Data Owner also let it change the account's ACLs and
  // take ownership of data (it sets no tags, ACLs or immutability policies)
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  monitoringReader: '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
  azureMlDataScientist: 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87ef9d8cf4'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  blobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

// ---- storage: datasets, models, state, queues -----------------------------------------------
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Consumption-plan functions and Event Grid reach the account from shared Azure addresses, not a VNet; every request is authenticated by Entra ID (shared keys are off)
  // checkov:skip=CKV_AZURE_59:the same: no private network on the Consumption plan; blob public access and shared keys are both disabled
  // checkov:skip=CKV_AZURE_43:the name is the 3-11 character prefix plus uniqueString, lowercased: 16-24 lowercase alphanumerics, which checkov cannot evaluate
  name: storageName
  location: location
  sku: {
    name: 'Standard_GRS'
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identities only: no account key in any setting
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow' // Consumption-plan functions and Event Grid come from shared Azure addresses
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource datasetsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: datasets
  properties: {
    publicAccess: 'None'
  }
}

resource deadLettersContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deadLetters
  properties: {
    publicAccess: 'None'
  }
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queueRemediation 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: remediationQueue
}

resource queuePoison 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: '${remediationQueue}-poison'
}

resource queueDeadLetters 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: deadLetterQueue
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource state 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tables
  name: stateTable
}

// ---- the function app and its identity ------------------------------------------------------
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-functions'
  location: location
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    DisableLocalAuth: true
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225:zone redundancy needs a Premium or Flex plan; the Consumption plan scales from zero across the region's infrastructure
  name: '${name}-plan'
  location: location
  kind: 'functionapp'
  sku: {
    name: 'Y1'
    tier: 'Dynamic'
  }
  properties: {
    reserved: true // Linux
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222:Event Grid and the action group deliver to the public endpoint (no private endpoint on Consumption); each function requires its key or Event Grid's validated subscription
  // checkov:skip=CKV_AZURE_212:the Consumption plan scales instances from zero on demand; a minimum instance count is a Premium-plan setting
  // checkov:skip=CKV_AZURE_213:health check needs two or more always-on instances; event-driven functions on Consumption have none to route around
  name: '${name}-${suffix}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: true
    clientCertMode: 'OptionalInteractiveUser' // Event Grid and action groups present no client certificate
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        // the host's own storage, by identity
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId } // DefaultAzureCredential picks this identity
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD;ClientId=${identity.properties.clientId}' }
        // skyloop.clouds.azure.config.AzureSettings
        { name: 'SKYLOOP_AZURE_ACCOUNT_URL', value: storage.properties.primaryEndpoints.blob }
        { name: 'SKYLOOP_AZURE_CONTAINER', value: datasets }
        { name: 'SKYLOOP_AZURE_STATE_TABLE', value: stateTable }
        { name: 'SKYLOOP_AZURE_REMEDIATION_QUEUE', value: remediationQueue }
        { name: 'SKYLOOP_AZURE_DEAD_LETTER_QUEUE', value: deadLetterQueue }
        { name: 'SKYLOOP_AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
        { name: 'SKYLOOP_AZURE_RESOURCE_GROUP', value: resourceGroup().name }
        { name: 'SKYLOOP_AZURE_WORKSPACE', value: workspace.name }
        { name: 'SKYLOOP_AZURE_ENDPOINT_PREFIX', value: name }
        { name: 'SKYLOOP_AZURE_SERVING_ENVIRONMENT', value: servingEnvironment }
        { name: 'SKYLOOP_AZURE_TRAINING_COMPUTE', value: trainingCompute }
        { name: 'SKYLOOP_AZURE_DATASTORE', value: datastore.name }
        { name: 'SKYLOOP_AZURE_ENDPOINT_IDENTITY', value: endpointIdentity.id }
        { name: 'SKYLOOP_AZURE_EVENTS_TOPIC_ENDPOINT', value: events.properties.endpoint }
        { name: 'SKYLOOP_AZURE_TARGETS', value: string(targets) }
        { name: 'SKYLOOP_AZURE_AI_ENDPOINT', value: ai.properties.endpoint }
        { name: 'SKYLOOP_AZURE_AI_REGION', value: location }
      ]
    }
  }
}

// ---- Azure AI services: files under ai/ are analysed (vision, language, speech) --------------
resource ai 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134:the Consumption-plan function reaches the account from shared Azure addresses (no private endpoint there); local auth is disabled, so only Entra ID identities with a role can call it
  name: '${name}-ai-${suffix}'
  location: location
  kind: 'AIServices'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: '${name}-ai-${suffix}' // Entra ID authentication needs a custom subdomain
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

// ---- Event Grid: uploads, Azure ML approvals, Skyloop's own events ---------------------------
resource storageEvents 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: '${name}-storage-events'
  location: location
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource uploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = if (subscribeEvents) {
  parent: storageEvents
  name: 'train'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/train'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${datasets}/blobs/'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: storage.id
        blobContainerName: deadLetters
      }
    }
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: mlWorkspaceName
}

// Azure ML reads Skyloop's storage only through this datastore. It holds no credential: a training
// job reads as whoever submitted it (the functions' identity), a deployment as its endpoint's
// identity, the studio as the workspace's, and each may read the datasets container, no more.
resource datastore 'Microsoft.MachineLearningServices/workspaces/datastores@2024-04-01' = {
  parent: workspace
  name: mlDatastoreName
  properties: {
    datastoreType: 'AzureBlob'
    accountName: storage.name
    containerName: datasets
    endpoint: environment().suffixes.storage
    protocol: 'https'
    credentials: {
      credentialsType: 'None'
    }
    serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity'
  }
}

// the identity every Skyloop online endpoint runs as (skyloop.clouds.azure.ml): a system-assigned
// one would exist only once the deployer made the endpoint, too late for a role here
resource endpointIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-ml-endpoints'
  location: location
}

module endpointAccess 'ml-endpoint-access.bicep' = {
  name: '${name}-ml-endpoint-access'
  scope: resourceGroup(split(workspace.properties.storageAccount, '/')[4])
  params: {
    principalId: endpointIdentity.properties.principalId
    workspaceStorageId: workspace.properties.storageAccount
    workspaceRegistryId: contains(workspace.properties, 'containerRegistry') ? workspace.properties.containerRegistry : ''
  }
}

resource mlEvents 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: '${name}-ml-events'
  location: location
  properties: {
    source: workspace.id
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

resource approvals 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = if (subscribeEvents) {
  parent: mlEvents
  name: 'deploy'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/deploy'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.MachineLearningServices.ModelRegistered' ]
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.ModelTags.approval', values: [ 'approved' ] }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: storage.id
        blobContainerName: deadLetters
      }
    }
  }
}

resource events 'Microsoft.EventGrid/topics@2023-12-15-preview' = {
  // checkov:skip=CKV_AZURE_193:the function app publishes from the Consumption plan, which has no private network; local auth is disabled, so only Entra ID identities with EventGrid Data Sender can publish
  name: '${name}-events-${suffix}'
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'EventGridSchema'
    disableLocalAuth: true // Entra ID only: the function's identity sends
    publicNetworkAccess: 'Enabled'
  }
}

resource domainEvents 'Microsoft.EventGrid/topics/eventSubscriptions@2023-12-15-preview' = if (subscribeEvents) {
  parent: events
  name: 'deploy'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/deploy'
        maxEventsPerBatch: 1
      }
    }
    filter: {
      includedEventTypes: [ 'Skyloop.ModelVersionApproved', 'Skyloop.CanaryPassed' ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: storage.id
        blobContainerName: deadLetters
      }
    }
  }
}

// ---- alerts reach detect through an action group, in the common alert schema ----------------
resource alerts 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${name}-detect'
  location: 'global'
  properties: {
    groupShortName: 'skydetect'
    enabled: true
    azureFunctionReceivers: [
      {
        name: 'detect'
        functionAppResourceId: app.id
        functionName: 'detect'
        httpTriggerUrl: 'https://${app.properties.defaultHostName}/api/alerts'
        useCommonAlertSchema: true
      }
    ]
  }
}

// ---- least privilege for the function app's identity ----------------------------------------
// the host's storage and Skyloop's blobs, queues and state: data-plane roles on the account only
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.blobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.tableDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// publishing domain events: on the one topic
resource sendRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: events
  name: guid(events.id, identity.id, roles.eventGridDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// models, endpoints and jobs: on the workspace
resource mlRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: workspace
  name: guid(workspace.id, identity.id, roles.azureMlDataScientist)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.azureMlDataScientist)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Azure ML's readers of the datasets container (the datastore above): read only, on that container
resource workspaceReadsDatasets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: datasetsContainer
  name: guid(datasetsContainer.id, workspace.id, roles.blobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataReader)
    principalId: workspace.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource endpointsReadDatasets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: datasetsContainer
  name: guid(datasetsContainer.id, endpointIdentity.id, roles.blobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataReader)
    principalId: endpointIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// the AI services the upload analysis calls: on the one account
resource aiRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: ai
  name: guid(ai.id, identity.id, roles.cognitiveServicesUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights takes only Entra ID telemetry (DisableLocalAuth): the identity that the app's
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING names must publish to it, or every trace is refused
resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: insights
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// reading the targets' metrics when an alert fires
resource metricsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, identity.id, roles.monitoringReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringReader)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionApp string = app.name
output datasetsUrl string = '${storage.properties.primaryEndpoints.blob}${datasets}'
output actionGroup string = alerts.id
output eventsTopic string = events.properties.endpoint
output identityPrincipalId string = identity.properties.principalId
output datastore string = 'azureml://datastores/${datastore.name}'
