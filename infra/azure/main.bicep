// Skyloop on Azure: four Function Apps from one package (Python v2 model), one per function group,
// each with its own user-assigned identity and the narrowest roles its functions need,
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

@description('The Azure ML compute cluster Skyloop creates for training and batch-scoring jobs.')
param trainingCompute string = 'cpu-cluster'

@description('VM size of the cluster\'s nodes.')
param computeVmSize string = 'Standard_DS3_v2'

@description('Most nodes the cluster scales out to (it scales in to none when idle).')
@minValue(1)
param computeMaxNodes int = 4

@description('Services remediation acts on, by the name alerts use: {"api": {"resource_id": "...", "kind": "containerapp", "model_group": "churn"}}.')
param targets object = {}

@description('Create the Event Grid subscriptions to the functions. False on the first deployment: Event Grid validates a subscription against its function, which exists only once the code is published ("Destination endpoint not found"); deploy again with true after publishing (README.md, "Deploy to Azure").')
param subscribeEvents bool = false

@description('People are told (skyloop.notify): a Key Vault secret URI holding a Slack-compatible webhook URL; empty: none. The notify app reads it as a Key Vault reference.')
param webhookSecretUri string = ''

@description('A Key Vault secret URI holding a PagerDuty Events API v2 routing key; empty: none.')
param pagerDutySecretUri string = ''

@description('The Key Vault (in this resource group) holding those secrets: the notify app may read its secrets, nothing else.')
param notificationsVaultName string = ''

var suffix = uniqueString(resourceGroup().id)
var storageName = toLower('${name}${suffix}')
var datasets = 'datasets'
var deadLetters = 'deadletters'
var remediationQueue = 'remediation'
var deadLetterQueue = 'skyloop-dead-letters'
var noticesQueue = 'notices'
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
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // the host account only: the Functions host's leases and keys
  queueMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // the notify app: its channels' secrets
}
// One Function App per function group (function-app.bicep), each identity holding only its group's
// roles below: one identity held Blob Data Contributor on the account with datasets and models
var groups = [ 'train', 'deploy', 'detect', 'remediate', 'notify' ]
var at = { train: 0, deploy: 1, detect: 2, remediate: 3, notify: 4 }
var runs = {
  train: [ 'train' ]
  deploy: [ 'deploy', 'rollout', 'rollout_step' ]
  detect: [ 'detect' ]
  remediate: [ 'remediate' ]
  notify: [ 'notify', 'notify_look' ]
}
var allFunctions = [ 'train', 'deploy', 'detect', 'remediate', 'invoke', 'rollout', 'rollout_step', 'notify', 'notify_look' ]
var hostStorageName = take(toLower('${name}host${suffix}'), 24)

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

// people are told: notices wait here for the notify function (one per channel); the host moves one
// that failed maxDequeueCount times to notices-poison
resource queueNotices 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: noticesQueue
}

resource queueNoticesPoison 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: '${noticesQueue}-poison'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource state 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tables
  name: stateTable
}

// ---- the function apps: one per function group, each with its own identity ------------------
// the Functions hosts' own storage (keys, leases, the Durable task hub): none of Skyloop's data,
// so the hosts' broad roles on it reach nothing of Skyloop's
resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Consumption-plan function hosts reach their storage from shared Azure addresses, not a VNet; every request is authenticated by Entra ID (shared keys are off)
  // checkov:skip=CKV_AZURE_59:the same: no private network on the Consumption plan; blob public access and shared keys are both disabled
  // checkov:skip=CKV_AZURE_43:the name is the prefix, "host" and uniqueString, lowercased and cut to 24: checkov cannot evaluate it
  // checkov:skip=CKV_AZURE_206:the hosts' leases and keys are rebuilt by the hosts; Skyloop's data is on the replicated account
  // checkov:skip=CKV_AZURE_33:queue logging is for data; this account holds the hosts' own queues only
  name: hostStorageName
  location: location
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
      }
    }
  }
}

// what every app reads (skyloop.clouds.azure.config.AzureSettings)
var skyloopSettings = [
  { name: 'SKYLOOP_AZURE_ACCOUNT_URL', value: storage.properties.primaryEndpoints.blob }
  { name: 'SKYLOOP_QUEUES__queueServiceUri', value: storage.properties.primaryEndpoints.queue } // the remediation queue trigger
  { name: 'SKYLOOP_AZURE_CONTAINER', value: datasets }
  { name: 'SKYLOOP_AZURE_STATE_TABLE', value: stateTable }
  { name: 'SKYLOOP_AZURE_REMEDIATION_QUEUE', value: remediationQueue }
  { name: 'SKYLOOP_AZURE_DEAD_LETTER_QUEUE', value: deadLetterQueue }
  { name: 'SKYLOOP_AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
  { name: 'SKYLOOP_AZURE_RESOURCE_GROUP', value: resourceGroup().name }
  { name: 'SKYLOOP_AZURE_WORKSPACE', value: workspace.name }
  { name: 'SKYLOOP_AZURE_ENDPOINT_PREFIX', value: name }
  { name: 'SKYLOOP_AZURE_SERVING_ENVIRONMENT', value: servingEnvironment }
  { name: 'SKYLOOP_AZURE_TRAINING_COMPUTE', value: cluster.name }
  { name: 'SKYLOOP_AZURE_DATASTORE', value: datastore.name }
  { name: 'SKYLOOP_AZURE_ENDPOINT_IDENTITY', value: endpointIdentity.id }
  { name: 'SKYLOOP_AZURE_EVENTS_TOPIC_ENDPOINT', value: events.properties.endpoint }
  { name: 'SKYLOOP_AZURE_TARGETS', value: string(targets) }
  { name: 'SKYLOOP_AZURE_AI_ENDPOINT', value: ai.properties.endpoint }
  { name: 'SKYLOOP_AZURE_AI_REGION', value: location }
  { name: 'SKYLOOP_AZURE_AI_RESOURCE_ID', value: ai.id }
  { name: 'SKYLOOP_AZURE_NOTICES_QUEUE', value: noticesQueue }
  { name: 'SKYLOOP_AZURE_NOTIFICATIONS_TOPIC_ENDPOINT', value: notifications.properties.endpoint }
]
// the notify app's channels: Key Vault references, resolved by the platform with the app's identity
var webhookSetting = [ { name: 'SKYLOOP_NOTIFICATIONS__WEBHOOK_URL', value: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})' } ]
var pagerDutySetting = [ { name: 'SKYLOOP_NOTIFICATIONS__PAGERDUTY_ROUTING_KEY', value: '@Microsoft.KeyVault(SecretUri=${pagerDutySecretUri})' } ]
var notifySecrets = concat(webhookSecretUri == '' ? [] : webhookSetting, pagerDutySecretUri == '' ? [] : pagerDutySetting)

module apps 'function-app.bicep' = [for group in groups: {
  name: '${name}-app-${group}'
  params: {
    group: group
    appName: '${name}-${group}-${suffix}'
    location: location
    planId: plan.id
    hostStorageName: hostStorage.name
    functions: runs[group]
    allFunctions: allFunctions
    settings: group == 'notify' ? concat(skyloopSettings, notifySecrets) : skyloopSettings
    insightsConnectionString: insights.properties.ConnectionString
  }
}]

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
        resourceId: '${apps[at.train].outputs.id}/functions/train'
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

// The cluster training and batch-scoring jobs run on (clouds/azure/ml.py, batch.py): no node, and no
// cost, while idle; scaled in two minutes after its last job. Jobs read and write as their submitter
// (the functions' identity), so the cluster's own managed identity is granted nothing; no SSH, and
// no keys (local auth off).
resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2024-04-01' = {
  parent: workspace
  name: trainingCompute
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    computeType: 'AmlCompute'
    disableLocalAuth: true
    description: 'Skyloop training and batch-scoring jobs'
    properties: {
      vmSize: computeVmSize
      vmPriority: 'Dedicated'
      osType: 'Linux'
      remoteLoginPortPublicAccess: 'Disabled'
      scaleSettings: {
        minNodeCount: 0
        maxNodeCount: computeMaxNodes
        nodeIdleTimeBeforeScaleDown: 'PT120S'
      }
    }
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

// a batch-scoring pipeline job's end (clouds/azure/batch.py): its RunStatusChanged, tagged skyloop-batch,
// is the completion the train app writes the manifest on
resource batchJobsEnded 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = if (subscribeEvents) {
  parent: mlEvents
  name: 'train-batch-jobs'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${apps[at.train].outputs.id}/functions/train'
        maxEventsPerBatch: 1
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.MachineLearningServices.RunStatusChanged' ]
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.runStatus', values: [ 'Completed', 'Failed', 'Canceled' ] }
        { operatorType: 'IsNotNull', key: 'data.runTags.skyloop-batch' }
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

resource approvals 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = if (subscribeEvents) {
  parent: mlEvents
  name: 'deploy'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${apps[at.deploy].outputs.id}/functions/deploy'
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

// what people subscribe to (a Logic App, a Teams workflow, an email action): Skyloop.Notice.<kind>
resource notifications 'Microsoft.EventGrid/topics@2023-12-15-preview' = {
  // checkov:skip=CKV_AZURE_193:the notify app publishes from the Consumption plan, which has no private network; local auth is disabled, so only Entra ID identities with EventGrid Data Sender can publish
  name: '${name}-notifications-${suffix}'
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'EventGridSchema'
    disableLocalAuth: true
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
        resourceId: '${apps[at.deploy].outputs.id}/functions/deploy'
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
        functionAppResourceId: apps[at.detect].outputs.id
        functionName: 'detect'
        httpTriggerUrl: 'https://${apps[at.detect].outputs.hostName}/api/alerts'
        useCommonAlertSchema: true
      }
    ]
  }
}

// ---- least privilege: each app's identity, on the resources its functions use ---------------
// group -> role on each resource; nothing is granted on Skyloop's storage account as a whole
var onDatasets = [
  { group: 'train', role: roles.blobDataContributor } // reads the CSV; writes the model, card, job code
  { group: 'deploy', role: roles.blobDataReader } // verifies the artifact against the registry's sha256
  { group: 'detect', role: roles.blobDataReader } // reads cards for root-cause analysis
  { group: 'remediate', role: roles.blobDataReader } // a rollback re-verifies the earlier artifact
]
var onRemediationQueue = [
  { group: 'detect', role: roles.queueMessageSender } // queues remediation requests
  { group: 'remediate', role: roles.queueDataContributor } // its trigger reads and deletes; a busy endpoint is requeued
]
// every app keeps state and idempotency records, parks what can never succeed, runs on its host
// storage and publishes telemetry; only these publish domain events: train (a gate's approval),
// detect (a canary that baked clean)
var publishers = [ 'train', 'detect' ]

resource stateRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: state
  name: guid(state.id, group, roles.tableDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource datasetRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for g in onDatasets: {
  scope: datasetsContainer
  name: guid(datasetsContainer.id, g.group, g.role)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.role)
    principalId: apps[at[g.group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource remediationQueueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for g in onRemediationQueue: {
  scope: queueRemediation
  name: guid(queueRemediation.id, g.group, g.role)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.role)
    principalId: apps[at[g.group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource noticesQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queueNotices // its look queues notices; its trigger reads and deletes them
  name: guid(queueNotices.id, 'notify', roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: apps[at.notify].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

resource noticesPoisonRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queueNoticesPoison
  name: guid(queueNoticesPoison.id, 'notify', roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: apps[at.notify].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

resource notifySendRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: notifications
  name: guid(notifications.id, 'notify', roles.eventGridDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: apps[at.notify].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (notificationsVaultName != '') {
  name: notificationsVaultName
}

resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (notificationsVaultName != '') {
  scope: vault
  name: guid(resourceGroup().id, notificationsVaultName, 'notify', roles.keyVaultSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: apps[at.notify].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

// the host moves a message that failed maxDequeueCount times to <queue>-poison
resource poisonQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queuePoison
  name: guid(queuePoison.id, 'remediate', roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: apps[at.remediate].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

resource deadLetterRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: queueDeadLetters
  name: guid(queueDeadLetters.id, group, roles.queueMessageSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueMessageSender)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

// the Functions hosts (and the Durable task hub) on their own account, which holds no Skyloop data
resource hostBlobRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: hostStorage
  name: guid(hostStorage.id, group, roles.blobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource hostQueueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: hostStorage
  name: guid(hostStorage.id, group, roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource hostTableRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: hostStorage
  name: guid(hostStorage.id, group, roles.tableDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource sendRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in publishers: {
  scope: events
  name: guid(events.id, group, roles.eventGridDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

// models, endpoints and jobs: every group uses the registry (train registers, deploy and remediate
// roll out and back, detect reads versions for root-cause analysis)
resource mlRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: workspace
  name: guid(workspace.id, group, roles.azureMlDataScientist)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.azureMlDataScientist)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

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

// the AI services the upload analysis calls (uploads under ai/ reach train): on the one account
resource aiRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: ai
  name: guid(ai.id, 'train', roles.cognitiveServicesUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesUser)
    principalId: apps[at.train].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights takes only Entra ID telemetry (DisableLocalAuth): the identity each app's
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING names must publish to it, or every trace is refused
resource telemetryRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for group in groups: {
  scope: insights
  name: guid(insights.id, group, roles.monitoringMetricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: apps[at[group]].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}]

// reading the targets' metrics when an alert fires: detect alone
resource metricsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, 'detect', roles.monitoringReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringReader)
    principalId: apps[at.detect].outputs.principalId
    principalType: 'ServicePrincipal'
  }
}

output functionApps array = [for (group, i) in groups: { group: group, name: apps[i].outputs.name, principalId: apps[i].outputs.principalId }]
output datasetsUrl string = '${storage.properties.primaryEndpoints.blob}${datasets}'
output actionGroup string = alerts.id
output eventsTopic string = events.properties.endpoint
output datastore string = 'azureml://datastores/${datastore.name}'
// the SKYLOOP_AZURE_* settings every app reads: skyloop connect azure --outputs <the deployment's outputs> points the CLI here
output skyloopSettings array = skyloopSettings
